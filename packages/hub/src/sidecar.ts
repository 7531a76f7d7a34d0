import { rm } from 'node:fs/promises';
import type { Logger } from 'pino';
import { CoordClient, CoordNode, writeActiveHubFile } from '@hubha/coord';
import type { NodeConfig } from '@hubha/coord';
import { HubAgent } from './agent/hub-agent.js';
import type { RaftPlacement, VipControl } from './agent/hub-agent.js';
import { checkHubFiles, resolveHubSettings } from './config/hub-config.js';
import { registerHubHealthRoutes } from './http/health-routes.js';
import { VipManager } from './vip/manager.js';
import { toVipControl } from './vip/control.js';
import { PgBinaries } from './postgres/binaries.js';
import { PostgresInstance } from './postgres/instance.js';
import { fenceFastTimeoutFor, replicationTimeoutsFor } from './agent/settings.js';
import { resolvePgOsUser } from './postgres/os-user.js';

export interface HubSidecar {
  readonly node: CoordNode;
  readonly agent: HubAgent;
  close(): Promise<void>;
}

/**
 * The hub sidecar: a member of the coordination store (Raft) plus the agent that runs
 * PostgreSQL, the VIP and the published address on the active-hub lease.
 */
export async function startHubSidecar(config: NodeConfig, configFile: string, logger: Logger): Promise<HubSidecar> {
  const settings = resolveHubSettings(config, configFile);
  const vipManager = settings.vip === null ? null : new VipManager({ address: settings.vip.address, interface: settings.vip.interface, logger });
  const vip: VipControl | null = vipManager === null ? null : toVipControl(vipManager);
  await checkHubFiles(settings, configFile);
  const osUser = await resolvePgOsUser({ name: settings.postgres.osUser });
  const binaries = await PgBinaries.locate({ binDir: settings.postgres.binDir, user: osUser });
  const postgres = new PostgresInstance({
    nodeName: settings.name,
    dataDir: settings.postgres.dataDir,
    port: settings.postgres.port,
    socketDir: settings.postgres.socketDir,
    binaries,
    osUser,
    listenAddresses: settings.postgres.listenAddresses,
    superuser: settings.postgres.superuser,
    // wal_sender_timeout and friends from syncDropAfterMs; the fence's fast attempt within the demotion budget.
    replication: replicationTimeoutsFor(settings.timings),
    timeouts: { fenceFastMs: fenceFastTimeoutFor(settings.timings) },
    logger,
  });
  const node = await CoordNode.start({ config, logger });
  const client = await CoordClient.connect({ endpoints: config.cluster.members.map((m) => m.client), requestTimeoutMs: settings.timings.leaseTtlMs, logger: logger.child({ component: 'coord-client' }) });
  const raft: RaftPlacement = {
    isLeader: () => node.raft.isLeader(),
    transferAway: async () => {
      const status = node.raft.status();
      // Prefer a witness (it never runs PostgreSQL), then any other voter, most up to date first.
      const witnesses = new Set(config.cluster.members.filter((m) => m.role === 'witness').map((m) => m.name));
      const candidates = status.conf.voters
        .filter((id) => id !== node.id && status.progress.get(id)?.recentActive === true)
        .sort((a, b) => Number(witnesses.has(b)) - Number(witnesses.has(a)) || (status.progress.get(b)?.match ?? 0) - (status.progress.get(a)?.match ?? 0));
      const target = candidates[0];
      if (target === undefined) return false;
      return (await node.raft.transferLeadership(target)).ok;
    },
  };
  const agent = new HubAgent({
    settings,
    client,
    postgres,
    vip,
    raft,
    logger,
    ...(settings.activeHubFile === null
      ? {}
      : { publishLocal: async (record) => (record === null ? rm(settings.activeHubFile!, { force: true }) : writeActiveHubFile(settings.activeHubFile!, record)) }),
  });
  const offHealth = node.http === null ? () => undefined : registerHubHealthRoutes(node.http, agent);
  agent.start();
  let closed = false;
  return {
    node,
    agent,
    async close() {
      if (closed) return;
      closed = true;
      offHealth();
      await agent.close();
      await vipManager?.close();
      await client.close();
      await node.close();
    },
  };
}
