/**
 * Operator hooks on a real local cluster: onPromote/onDemote run with role, epoch and node in the
 * environment; a failing hook is logged and reported but never blocks promotion or fencing.
 */
import { chmod, mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CoordClient } from '@hubha/coord';
import { REPORT_PREFIX, hubReportSchema, parseRecord } from '@hubha/coord';
import { LocalHubCluster } from '../../deploy/local/local-cluster.js';
import { connectClient, readActiveHub, waitFor, waitHealthy } from './support.js';

let cluster: LocalHubCluster;
let client: CoordClient;
let dir: string;

const hookLog = (hub: string): string => join(dir, `${hub}-hooks.log`);
const hookLines = async (hub: string): Promise<string[]> => (await readFile(hookLog(hub), 'utf8').catch(() => '')).split('\n').filter((l) => l !== '');

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hubha-hooks-'));
  await chmod(dir, 0o755); // PostgreSQL (another OS user) must traverse it
  cluster = await LocalHubCluster.create({
    dir: join(dir, 'cluster'),
    synchronous: 'on',
    hubExtra: (name) => ({
      hooks: {
        onPromote: ['/bin/sh', '-c', `echo "$HUBHA_EVENT $HUBHA_ROLE $HUBHA_EPOCH $HUBHA_NODE" >> ${hookLog(name)}`],
        onDemote: ['/bin/sh', '-c', `echo "$HUBHA_EVENT $HUBHA_ROLE $HUBHA_EPOCH $HUBHA_NODE" >> ${hookLog(name)}`],
        // A broken hook: it must be reported, and change nothing else.
        onRoleChange: ['/bin/sh', '-c', 'exit 3'],
        timeoutMs: 5000,
      },
    }),
  });
  cluster.startAll();
  client = await connectClient(cluster);
}, 120_000);

afterAll(async () => {
  await client?.close();
  await cluster?.destroy({ keep: process.env.HUBHA_KEEP === '1' });
});

describe('hooks', () => {
  it('run on promotion and demotion with role, epoch and node; a failing hook is reported, not fatal', { timeout: 150_000 }, async () => {
    const { active, standby } = await waitHealthy(cluster, client, { synchronous: true });
    await waitFor('the promote hook', async () => (await hookLines(active.name)).includes(`promote primary ${active.epoch} ${active.name}`), 10_000);

    // The failing role-change hook shows in the hub's report.
    await waitFor('the failing hook in the report', async () => {
      const res = await client.session('r').get(`${REPORT_PREFIX}${active.name}`);
      if (res.kv === null) return false;
      const report = parseRecord(hubReportSchema, 'report', res.kv.value);
      return report.ok && report.value.lastHookFailure?.startsWith('role-change: exited with 3') === true;
    }, 15_000);

    // A planned stop of the active sidecar: it fences (demote hook), the standby takes over.
    await cluster.kill(active.name, 'SIGTERM');
    await waitFor('the demote hook', async () => (await hookLines(active.name)).some((l) => l.startsWith(`demote fenced ${active.epoch} ${active.name}`)), 15_000);
    const next = await waitFor('the standby promoted', async () => {
      const record = await readActiveHub(client).catch(() => null);
      return record?.name === standby ? record : null;
    }, 30_000);
    await waitFor('the new promote hook', async () => (await hookLines(standby)).includes(`promote primary ${next.epoch} ${standby}`), 10_000);
    const logs = await cluster.logs(standby);
    expect(logs.some((l) => l.msg === 'hook failed' && l.hook === 'role-change')).toBe(true);
  });
});
