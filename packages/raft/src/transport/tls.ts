import * as grpc from '@grpc/grpc-js';
import { readFile } from 'node:fs/promises';
import type { TransportTlsOptions } from './options.js';

export interface TransportCredentials {
  readonly server: grpc.ServerCredentials;
  readonly client: grpc.ChannelCredentials;
  readonly tls: boolean;
}

async function pem(inline: string | Uint8Array | undefined, file: string | undefined, what: string): Promise<Buffer> {
  if (inline !== undefined) return typeof inline === 'string' ? Buffer.from(inline, 'utf8') : Buffer.from(inline);
  if (file !== undefined) return readFile(file);
  throw new Error(`raft transport tls: ${what} or ${what}File is required`);
}

/**
 * Credentials for both sides. With TLS, the server demands and verifies a client certificate
 * (mutual TLS) against `ca`, and the client verifies the server's certificate against `ca` and
 * the peer address's host (so node certificates need SANs for the addresses peers dial).
 */
export async function loadCredentials(tls: TransportTlsOptions | undefined): Promise<TransportCredentials> {
  if (tls === undefined) {
    return { server: grpc.ServerCredentials.createInsecure(), client: grpc.credentials.createInsecure(), tls: false };
  }
  const [ca, cert, key] = await Promise.all([
    pem(tls.ca, tls.caFile, 'ca'),
    pem(tls.cert, tls.certFile, 'cert'),
    pem(tls.key, tls.keyFile, 'key'),
  ]);
  return {
    server: grpc.ServerCredentials.createSsl(ca, [{ private_key: key, cert_chain: cert }], true),
    client: grpc.credentials.createSsl(ca, key, cert),
    tls: true,
  };
}
