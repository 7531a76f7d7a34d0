/**
 * Vitest scaffolding for the lab scenario tests (test/lab/*.test.ts): one lab cluster per file,
 * built in beforeAll (skipped where namespaces cannot be created), destroyed in afterAll; the
 * members' last log lines printed when a test fails.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, onTestFailed } from 'vitest';
import { labPermitted } from '../../deploy/lab/lab.js';
import { LabCluster, MEMBERS, type LabClusterOptions } from './lab-cluster.js';

export const permitted = (await labPermitted()).ok;

export interface Scenario {
  /** The cluster (set once beforeAll ran). */
  readonly lc: LabCluster;
  /** A fresh file for a writer's history. */
  historyFile(name: string): Promise<string>;
}

/** Builds the cluster before the file's tests, waits for it to be healthy, creates the writer's table. */
export function useLabCluster(options: LabClusterOptions & { readyMs?: number }): Scenario {
  let lc: LabCluster | undefined;
  let scratch: string | undefined;
  beforeAll(async () => {
    if (!permitted) return;
    lc = await LabCluster.start(options);
    const { active } = await lc.waitRecovered(options.readyMs ?? 60_000);
    await lc.setupWorkload(active);
    scratch = await mkdtemp(join(tmpdir(), `${options.base}-hist-`));
  }, 120_000);
  afterAll(async () => {
    const keep = process.env.HUBHA_KEEP === '1';
    try {
      await lc?.destroy({ keep });
    } finally {
      if (scratch !== undefined && !keep) await rm(scratch, { recursive: true, force: true });
    }
  }, 60_000);
  return {
    get lc(): LabCluster {
      if (lc === undefined) throw new Error('the lab cluster is not running');
      return lc;
    },
    async historyFile(name: string): Promise<string> {
      scratch ??= await mkdtemp(join(tmpdir(), `${options.base}-hist-`));
      return join(scratch, `${name}.jsonl`);
    },
  };
}

/** On failure, the last `lines` agent/Raft log lines of every member, condensed. */
export function dumpLogsOnFailure(scenario: Scenario, lines = 40): void {
  onTestFailed(async () => {
    const lc = scenario.lc;
    for (const m of MEMBERS) {
      const entries = (await lc.logs(m)).filter((l) => l.component !== 'raft-transport').slice(-lines);
      const text = entries.map((l) => {
        const { time, msg, level, pid: _pid, hostname: _h, node: _n, component, ...rest } = l;
        return `${new Date(Number(time)).toISOString().slice(11, 23)} ${String(level)} ${String(component ?? '')} ${String(msg)} ${JSON.stringify(rest).slice(0, 240)}`;
      });
      console.log(`--- last ${entries.length} lines of ${m}'s log ---\n${text.join('\n')}`);
    }
  });
}

/** A pino time in the form the test output uses. */
export function hhmmss(ms: number): string {
  return new Date(ms).toISOString().slice(11, 23);
}
