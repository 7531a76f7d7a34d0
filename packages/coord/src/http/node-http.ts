import type { Logger } from 'pino';
import type { NodeConfig } from '../config/node-config.js';
import type { ActiveHubReader } from '../discovery/reader.js';
import { registerCoreRoutes } from './core-routes.js';
import type { ReadinessHost } from './core-routes.js';
import { HttpServer } from './http-server.js';

/** Where this member's HTTP server listens: node.listenHttp, else its member entry's `http`; none: no server. */
export function httpListenAddress(config: NodeConfig): string | undefined {
  return config.node.listenHttp ?? config.cluster.members.find((m) => m.name === config.node.name)?.http;
}

/** Starts the member's HTTP server with the core routes, when one is configured. */
export async function startNodeHttp(host: ReadinessHost, reader: ActiveHubReader, config: NodeConfig, logger: Logger): Promise<HttpServer | null> {
  const listen = httpListenAddress(config);
  if (listen === undefined) return null;
  const server = await HttpServer.start({ listen, logger: logger.child({ component: 'http' }) });
  registerCoreRoutes(server, host, reader);
  return server;
}
