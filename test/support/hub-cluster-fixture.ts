import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import type { CoordClient } from '@hubha/coord';
import { LocalHubCluster } from '../../deploy/local/local-cluster.js';
import { ELECTION_SAFE, connectClient } from '../hub/support.js';

export interface HubClusterFixture {
  readonly cluster: LocalHubCluster;
  /** A client of the cluster's store. */
  readonly client: CoordClient;
}

/**
 * A fresh local cluster for one test file: two hubs with PostgreSQL 15 and a witness, synchronous
 * mode on, the default (election-safe) timings, started before the file's tests with a store
 * client, destroyed after them (kept with HUBHA_KEEP=1). Call at the top level of the file.
 */
export function useHubCluster(prefix: string): HubClusterFixture {
  let cluster: LocalHubCluster | undefined;
  let client: CoordClient | undefined;
  beforeAll(async () => {
    cluster = await LocalHubCluster.create({ dir: await mkdtemp(join(tmpdir(), `hubha-${prefix}-`)), synchronous: 'on', ...ELECTION_SAFE });
    cluster.startAll();
    client = await connectClient(cluster);
  }, 120_000);
  afterAll(async () => {
    await client?.close();
    await cluster?.destroy({ keep: process.env.HUBHA_KEEP === '1' });
  });
  return {
    get cluster(): LocalHubCluster {
      if (cluster === undefined) throw new Error('the cluster is not started: use it inside the tests');
      return cluster;
    },
    get client(): CoordClient {
      if (client === undefined) throw new Error('the store client is not connected: use it inside the tests');
      return client;
    },
  };
}
