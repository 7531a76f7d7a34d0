import { readFile } from 'node:fs/promises';
import * as grpc from '@grpc/grpc-js';
import { CoordClientError } from './errors.js';

/**
 * TLS for the client. Each of ca / cert / key is either the PEM text itself (a Uint8Array, or a
 * string containing "-----BEGIN") or the path of a PEM file (any other string) — so the `tls`
 * section of a node's configuration (file paths) can be passed as it is.
 *
 * The servers demand a client certificate (mutual TLS) signed by `ca`; the client verifies the
 * server's certificate against `ca` and the endpoint's host name.
 */
export interface CoordClientTls {
  readonly ca: string | Uint8Array;
  readonly cert: string | Uint8Array;
  readonly key: string | Uint8Array;
  /** The name to verify the servers' certificates against instead of the endpoint's host. */
  readonly serverName?: string;
}

async function pem(source: string | Uint8Array, what: string): Promise<Buffer> {
  if (source instanceof Uint8Array) return Buffer.from(source);
  if (typeof source !== 'string' || source === '') throw new CoordClientError('invalid-argument', `tls.${what}: a PEM text or a file path is required`);
  if (source.includes('-----BEGIN')) return Buffer.from(source, 'utf8');
  try {
    return await readFile(source);
  } catch (err: unknown) {
    throw new CoordClientError('invalid-argument', `tls.${what}: cannot read ${source}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
}

export async function clientCredentials(tls: CoordClientTls | undefined): Promise<{ credentials: grpc.ChannelCredentials; options: grpc.ChannelOptions }> {
  if (tls === undefined) return { credentials: grpc.credentials.createInsecure(), options: {} };
  const [ca, cert, key] = await Promise.all([pem(tls.ca, 'ca'), pem(tls.cert, 'cert'), pem(tls.key, 'key')]);
  return {
    credentials: grpc.credentials.createSsl(ca, key, cert),
    options: tls.serverName === undefined ? {} : { 'grpc.ssl_target_name_override': tls.serverName, 'grpc.default_authority': tls.serverName },
  };
}
