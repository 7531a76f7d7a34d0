export { HttpServer, HttpServerError, parseHostPort } from './http-server.js';
export type { HttpHandler, HttpMethod, HttpRequestInfo, HttpResult, HttpRouteOptions, HttpServerOptions } from './http-server.js';
export { ACTIVE_HUB_PATH, LIVENESS_PATH, READINESS_PATH, activeHubRoute, readinessRoute, registerCoreRoutes } from './core-routes.js';
export type { ReadinessHost } from './core-routes.js';
export { httpListenAddress, startNodeHttp } from './node-http.js';
export { DASHBOARD_PATH, METRICS_PATH, registerOperatorRoutes } from './operator-routes.js';
