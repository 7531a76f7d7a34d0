import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const cli = resolve(import.meta.dirname, '../dist/main.js');
const examples = resolve(import.meta.dirname, '../../../deploy/examples');

describe('hubha config validate', () => {
  it('accepts the shipped example configurations', async () => {
    for (const file of ['hub1.yaml', 'witness.yaml']) {
      const { stdout } = await run(process.execPath, [cli, 'config', 'validate', resolve(examples, file)]);
      expect(stdout).toContain(': ok (');
    }
  });

  it('names the key and the problem, and exits 2', async () => {
    const err = await run(process.execPath, [cli, 'config', 'validate', resolve(import.meta.dirname, 'fixtures/bad-timings.yaml')]).then(
      () => null,
      (e: { code: number; stderr: string }) => e,
    );
    expect(err?.code).toBe(2);
    expect(err?.stderr).toContain('hub.timings: renewIntervalMs (500) must be at most leaseTtlMs / 3');
  });
});
