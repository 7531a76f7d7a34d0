import { readFile } from 'node:fs/promises';
import * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { clusterService, kvService, leaseService, watchService } from '../rpc/definitions.js';
import { discoveryService } from '../discovery/definitions.js';
import { discoveryHandlers } from '../discovery/service.js';
import { adminService } from '../admin/definitions.js';
import { adminHandlers } from '../admin/handlers.js';
import { memberHandlers } from '../admin/member-handlers.js';
import { MemberOperations } from '../admin/member-operations.js';
import type { CoordNode } from './coord-node.js';
import { clusterHandlers } from './cluster-service.js';
import { kvHandlers } from './kv-service.js';
import { leaseHandlers } from './lease-service.js';
import { watchHandlers } from './watch-service.js';

/** Largest request or response on the client API (a value is at most 1 MiB). */
const MAX_CLIENT_MESSAGE_BYTES = 4 * 1024 * 1024;

/** The gRPC server of the coordination API (KV, Lease, Watch, Cluster) on one member. */
export class ClientApiServer {
  private closed = false;

  private constructor(
    private readonly server: grpc.Server,
    private readonly boundAddress: string,
    private readonly members: MemberOperations,
  ) {}

  static async start(node: CoordNode, listen: string, tls: { ca: string; cert: string; key: string } | undefined, logger: Logger): Promise<ClientApiServer> {
    const server = new grpc.Server({
      'grpc.max_receive_message_length': MAX_CLIENT_MESSAGE_BYTES,
      'grpc.max_send_message_length': MAX_CLIENT_MESSAGE_BYTES,
      'grpc.keepalive_permit_without_calls': 1,
    });
    server.addService(kvService, kvHandlers(node));
    server.addService(leaseService, leaseHandlers(node));
    server.addService(watchService, watchHandlers(node));
    server.addService(clusterService, clusterHandlers(node));
    server.addService(discoveryService, discoveryHandlers(node, node.discovery, logger));
    // The membership operations forward to the leader over a transport of their own, closed with the server.
    const members = new MemberOperations({ host: node, status: (options) => node.admin.status(options), logger, ...(tls === undefined ? {} : { tls }) });
    server.addService(adminService, { ...adminHandlers(node.admin, logger), ...memberHandlers(members) });
    const credentials =
      tls === undefined
        ? grpc.ServerCredentials.createInsecure()
        : grpc.ServerCredentials.createSsl(await readFile(tls.ca), [{ private_key: await readFile(tls.key), cert_chain: await readFile(tls.cert) }], true);
    const port = await new Promise<number>((resolve, reject) => {
      server.bindAsync(listen, credentials, (err, bound) => (err === null ? resolve(bound) : reject(err)));
    });
    const host = listen.slice(0, listen.lastIndexOf(':'));
    const address = `${host}:${port}`;
    logger.info({ address, tls: tls !== undefined }, 'client API listening');
    return new ClientApiServer(server, address, members);
  }

  address(): string {
    return this.boundAddress;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // Streams (watches) never end on their own: do not wait for them.
    this.server.forceShutdown();
    await this.members.close();
  }
}
