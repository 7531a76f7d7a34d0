import { CoordClient } from '@hubha/coord';
import { clientConfigPaths, loadClientConfig } from './client-config.js';

/**
 * Endpoints from --endpoints, else $HUBHA_ENDPOINTS ("host:port,host:port"), else the client
 * configuration file (client-config.ts).
 */
export function resolveEndpoints(flag: string | undefined): string[] {
  const raw = flag ?? process.env.HUBHA_ENDPOINTS ?? '';
  const endpoints = raw
    .split(',')
    .map((e) => e.trim())
    .filter((e) => e !== '');
  if (endpoints.length > 0) return endpoints;
  const file = loadClientConfig();
  if (file !== null) return [...file.config.endpoints];
  throw new UsageError(`no endpoints: pass --endpoints host:port[,host:port...], set HUBHA_ENDPOINTS, or write them in ${clientConfigPaths().join(' or ')} (endpoints: [host:port, ...])`);
}

export class UsageError extends Error {
  readonly code = 'USAGE';
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** Runs `fn` with a connected client and closes it afterwards. */
export async function withClient<T>(endpointsFlag: string | undefined, fn: (client: CoordClient) => Promise<T>): Promise<T> {
  const client = await CoordClient.connect({ endpoints: resolveEndpoints(endpointsFlag), requestTimeoutMs: 10_000 });
  try {
    return await fn(client);
  } finally {
    await client.close();
  }
}
