export { DISCOVERY_SERVICE, discoveryService } from './definitions.js';
export { MalformedAnswerError, answerFromWire, answerToJson, answerToWire } from './answer.js';
export type { ActiveHubAbsent, ActiveHubAnswer, ActiveHubPresent } from './answer.js';
export { ActiveHubReader, DEFAULT_BARRIER_TIMEOUT_MS, DiscoveryUnavailableError } from './reader.js';
export type { ActiveHubReaderOptions, DiscoveryHost } from './reader.js';
export { discoveryHandlers } from './service.js';
export { DiscoveryClient, DiscoveryUnreachableError } from './client.js';
export type { ActiveHubWatchHandlers, DiscoveryClientOptions, DiscoveryReadOptions, EndpointFailure, FoundActiveHub } from './client.js';
export { readActiveHubFile, writeActiveHubFile } from './active-hub-file.js';
