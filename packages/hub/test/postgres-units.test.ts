import { chmod, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BoundedOutput,
  PgCommandError,
  PgCommandRunner,
  Secret,
  buildConninfo,
  compareLsn,
  decideRewind,
  formatLsn,
  lsnDiff,
  parseControlData,
  parseLsn,
  parseManagedConf,
  parsePostgresVersion,
  parseTimelineHistory,
  readPasswordFile,
  renderHba,
  renderManagedConf,
  renderSynchronousStandbyNames,
  resolvePgOsUser,
  sanitizeAutoConf,
  scramSha256Verifier,
  type PgOsUser,
  type RuntimeSettings,
} from '../src/index.js';
import { inspect } from 'node:util';

describe('LSN', () => {
  it('parses and formats like PostgreSQL', () => {
    expect(parseLsn('0/0')).toBe(0n);
    expect(parseLsn('0/3000148')).toBe(0x3000148n);
    expect(parseLsn('16/B374D848')).toBe((0x16n << 32n) | 0xb374d848n);
    expect(parseLsn('ffffffff/ffffffff')).toBe((1n << 64n) - 1n);
    expect(formatLsn(0x3000148n)).toBe('0/3000148');
    expect(formatLsn((0x16n << 32n) | 0xb374d848n)).toBe('16/B374D848');
  });

  it('refuses malformed LSNs with INVALID_LSN (never NaN)', () => {
    for (const bad of ['', '0', '/', '0/', '/0', '0/0/0', ' 0/0', '0/0 ', 'g/0', '-1/0', '0/-1', '123456789/0', '0/123456789', '0x1/0', '1.5/0']) {
      expect(() => parseLsn(bad), bad).toThrow(expect.objectContaining({ code: 'INVALID_LSN' }));
    }
    for (const bad of [null, undefined, 5, 5n, {}]) {
      expect(() => parseLsn(bad)).toThrow(expect.objectContaining({ code: 'INVALID_LSN' }));
    }
    expect(() => formatLsn(-1n)).toThrow(expect.objectContaining({ code: 'INVALID_LSN' }));
    expect(() => formatLsn(1n << 64n)).toThrow(expect.objectContaining({ code: 'INVALID_LSN' }));
    expect(() => lsnDiff('0/1', 'nope')).toThrow(expect.objectContaining({ code: 'INVALID_LSN' }));
  });

  it('round-trips and diffs (property)', () => {
    const lsnArb = fc.bigInt({ min: 0n, max: (1n << 64n) - 1n });
    fc.assert(
      fc.property(lsnArb, lsnArb, (a, b) => {
        expect(parseLsn(formatLsn(a))).toBe(a);
        expect(parseLsn(formatLsn(a).toLowerCase())).toBe(a);
        expect(lsnDiff(formatLsn(a), formatLsn(b))).toBe(a - b);
        expect(compareLsn(a, b)).toBe(a < b ? -1 : a > b ? 1 : 0);
      }),
    );
  });
});

describe('quoting and the managed file', () => {
  const node = { nodeName: 'hub-a', port: 5433, listenAddresses: ['127.0.0.1', '10.0.0.5'], socketDir: "/run/it's" };

  it('round-trips runtime settings through the managed file (property)', () => {
    const printable = fc.string({ unit: fc.constantFrom(...'ab\\\'" =#/:@xyz'.split('')) });
    fc.assert(
      fc.property(printable, printable, printable, fc.boolean(), (conninfo, slot, sync, ro) => {
        const rt: RuntimeSettings = { primaryConninfo: conninfo, primarySlotName: slot, synchronousStandbyNames: sync, defaultTransactionReadOnly: ro };
        expect(parseManagedConf(renderManagedConf(node, rt))).toEqual(rt);
      }),
    );
  });

  it('refuses control characters instead of escaping them', () => {
    const rt: RuntimeSettings = { primaryConninfo: 'a\nport=1', primarySlotName: '', synchronousStandbyNames: '', defaultTransactionReadOnly: false };
    expect(() => renderManagedConf(node, rt)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect(() => buildConninfo([['host', 'x\u0000y']])).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
  });

  it('refuses a hand-edited managed file', () => {
    const good = renderManagedConf(node, { primaryConninfo: '', primarySlotName: '', synchronousStandbyNames: '', defaultTransactionReadOnly: false });
    expect(() => parseManagedConf(good.replace('# hubha-managed-v1', '# mine'))).toThrow(expect.objectContaining({ code: 'MANAGED_CONF_INVALID' }));
    expect(() => parseManagedConf(`${good}work_mem = '1GB'\n`)).toThrow(expect.objectContaining({ code: 'MANAGED_CONF_INVALID' }));
    expect(() => parseManagedConf(`${good}primary_slot_name = 'unterminated\n`)).toThrow(expect.objectContaining({ code: 'MANAGED_CONF_INVALID' }));
  });

  it('builds conninfo strings libpq parses: quotes and backslashes escaped', () => {
    expect(buildConninfo([['host', '127.0.0.1'], ['passfile', "/p/it's\\x"], ['port', 5432]])).toBe(
      "host='127.0.0.1' passfile='/p/it\\'s\\\\x' port='5432'",
    );
    expect(() => buildConninfo([['Host', 'x']])).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
  });

  it('synchronous_standby_names: FIRST 1 (...), empty = async, strict empty = *', () => {
    expect(renderSynchronousStandbyNames(['node2'], false)).toBe('FIRST 1 ("node2")');
    expect(renderSynchronousStandbyNames(['b', 'a'], true)).toBe('FIRST 1 ("b", "a")');
    expect(renderSynchronousStandbyNames([], false)).toBe('');
    expect(renderSynchronousStandbyNames([], true)).toBe('*');
    for (const bad of [['a"b'], ['x', 'x'], [''], ['a b'], ['x'.repeat(64)]]) {
      expect(() => renderSynchronousStandbyNames(bad, false)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    }
  });

  it('pg_hba: trust only for the superuser on the socket; scram for TCP; CIDRs validated', () => {
    const hba = renderHba({ superuser: 'postgres', replicationUser: 'replicator', peerCidrs: ['10.0.0.0/24', 'fd00::/64'], clientCidrs: ['192.168.1.0/24'] });
    const rules = hba.split('\n').filter((l) => l !== '' && !l.startsWith('#')).map((l) => l.split(/\s+/));
    expect(rules.filter((r) => r.includes('trust'))).toEqual([['local', 'all', 'postgres', 'trust']]);
    expect(rules.filter((r) => r[0] === 'host').every((r) => r[r.length - 1] === 'scram-sha-256')).toBe(true);
    expect(rules.filter((r) => r[1] === 'replication').map((r) => r[3])).toEqual(['10.0.0.0/24', 'fd00::/64']);
    for (const bad of ['10.0.0.0', '10.0.0.256/24', '10.0.0.0/33', 'all', '0/0; trust']) {
      expect(() => renderHba({ superuser: 'postgres', replicationUser: 'r', peerCidrs: [bad], clientCidrs: [] })).toThrow(
        expect.objectContaining({ code: 'INVALID_ARGUMENT' }),
      );
    }
  });

  it('strips managed keys from postgresql.auto.conf', () => {
    const auto = "# Do not edit this file manually!\nprimary_conninfo = 'host=x'\nwork_mem = '8MB'\nPORT=5\n# port = 1\n";
    const { text, dropped } = sanitizeAutoConf(auto);
    expect(dropped).toEqual(['primary_conninfo', 'port']);
    expect(text).toBe("# Do not edit this file manually!\nwork_mem = '8MB'\n# port = 1\n");
  });
});

describe('parsers', () => {
  it('pg_controldata', () => {
    const text = [
      'pg_control version number:            1300',
      'Database system identifier:           7712453064237664609',
      'Database cluster state:               shut down in recovery',
      'Latest checkpoint location:           0/17420F8',
      "Latest checkpoint's REDO location:    0/17420C0",
      "Latest checkpoint's TimeLineID:       2",
      'Minimum recovery ending location:     0/3000000',
      "Min recovery ending loc's timeline:   2",
      'wal_level setting:                    replica',
      'wal_log_hints setting:                on',
      'Data page checksum version:           1',
    ].join('\n');
    expect(parseControlData(text)).toEqual({
      systemIdentifier: 7712453064237664609n,
      clusterState: 'shut down in recovery',
      latestCheckpointLocation: 0x17420f8n,
      latestCheckpointRedo: 0x17420c0n,
      latestCheckpointTimeline: 2,
      minRecoveryEndLocation: 0x3000000n,
      minRecoveryEndTimeline: 2,
      dataChecksumVersion: 1,
      walLogHints: true,
    });
    expect(() => parseControlData(text.replace('shut down in recovery', 'on fire'))).toThrow(expect.objectContaining({ code: 'CONTROLDATA_INVALID' }));
    expect(() => parseControlData(text.replace('0/17420F8', '0/XYZ'))).toThrow(expect.objectContaining({ code: 'CONTROLDATA_INVALID' }));
    expect(() => parseControlData('')).toThrow(expect.objectContaining({ code: 'CONTROLDATA_INVALID' }));
  });

  it('postgres --version', () => {
    expect(parsePostgresVersion('postgres (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)\n')).toEqual({ major: 15, version: '15.18' });
    expect(parsePostgresVersion('postgres (PostgreSQL) 16beta2')).toEqual({ major: 16, version: '16' });
    expect(parsePostgresVersion('mysql 8.0')).toBeUndefined();
  });

  it('timeline history and the rewind decision', () => {
    const h = parseTimelineHistory('1\t0/3000610\tno recovery target specified\n\n2\t0/5000000\tno recovery target specified\n');
    expect(h).toEqual([
      { timeline: 1, switchpoint: 0x3000610n },
      { timeline: 2, switchpoint: 0x5000000n },
    ]);
    expect(() => parseTimelineHistory('2\t0/1\tx\n1\t0/2\ty\n')).toThrow();
    const base = { systemId: 1n, timeline: 3, end: 0x100n, history: h };
    expect(decideRewind(base, { systemId: 2n, timeline: 3, flush: 0x100n, history: h })).toEqual({ kind: 'system-mismatch' });
    expect(decideRewind(base, { systemId: 1n, timeline: 4, flush: 0x100n, history: undefined })).toMatchObject({ kind: 'rewind' });
    expect(decideRewind({ ...base, timeline: 4 }, { systemId: 1n, timeline: 3, flush: 0x100n, history: undefined })).toMatchObject({ kind: 'rewind' });
    expect(decideRewind(base, { systemId: 1n, timeline: 3, flush: 0x100n, history: h })).toEqual({ kind: 'none' });
    // Two promotions to the same timeline number: pg_rewind would say "no rewind required".
    const other = [{ timeline: 1, switchpoint: 0x3000610n }, { timeline: 2, switchpoint: 0x5000100n }];
    expect(decideRewind(base, { systemId: 1n, timeline: 3, flush: 0x100n, history: other })).toMatchObject({ kind: 'diverged' });
    expect(decideRewind(base, { systemId: 1n, timeline: 3, flush: 0xffn, history: h })).toMatchObject({ kind: 'diverged' });
  });
});

describe('secrets and password files', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'hubha-pw-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('Secret never prints its value', () => {
    const s = new Secret('hunter2');
    expect(String(s)).toBe('[redacted]');
    expect(JSON.stringify({ s })).toBe('{"s":"[redacted]"}');
    expect(inspect(s)).toBe('[redacted]');
    expect(s.reveal()).toBe('hunter2');
  });

  it('reads a 0600 one-line file and refuses the rest, without quoting the password', async () => {
    const f = async (name: string, content: string, mode = 0o600): Promise<string> => {
      const p = join(dir, name);
      await writeFile(p, content, { mode });
      await chmod(p, mode);
      return p;
    };
    expect((await readPasswordFile(await f('ok', 'pa:ss\\word\n'))).reveal()).toBe('pa:ss\\word');
    expect((await readPasswordFile(await f('crlf', 'pw\r\n', 0o400))).reveal()).toBe('pw');
    for (const [name, content, mode] of [
      ['world', 'topsecret\n', 0o644],
      ['group', 'topsecret\n', 0o640],
      ['empty', '\n', 0o600],
      ['two', 'topsecret\nmore\n', 0o600],
      ['ctl', 'top\tsecret\n', 0o600],
    ] as const) {
      const err = await readPasswordFile(await f(name, content, mode)).catch((e: unknown) => e);
      expect(err, name).toMatchObject({ code: 'PASSWORD_FILE_INVALID' });
      expect(String((err as Error).message)).not.toContain('topsecret');
    }
    await symlink(join(dir, 'ok'), join(dir, 'link'));
    await expect(readPasswordFile(join(dir, 'link'))).rejects.toMatchObject({ code: 'PASSWORD_FILE_INVALID' });
    await expect(readPasswordFile(join(dir, 'missing'))).rejects.toMatchObject({ code: 'PASSWORD_FILE_INVALID' });
  });

  it('SCRAM verifier has PostgreSQL\'s format and is deterministic for a given salt', () => {
    const salt = Buffer.alloc(16, 7);
    const v = scramSha256Verifier(new Secret('pencil'), { salt });
    expect(v).toMatch(/^SCRAM-SHA-256\$4096:[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+:[A-Za-z0-9+/=]+$/);
    expect(scramSha256Verifier(new Secret('pencil'), { salt })).toBe(v);
    expect(scramSha256Verifier(new Secret('pencil'))).not.toBe(v);
    expect(() => scramSha256Verifier(new Secret('pässword'))).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
  });
});

describe('PgCommandRunner', () => {
  let user: PgOsUser;
  beforeAll(async () => {
    user = await resolvePgOsUser();
  });

  it('runs as the OS user, with a clean C-locale environment and no shell', async () => {
    const runner = new PgCommandRunner(user);
    const id = await runner.run({ command: '/usr/bin/id', args: ['-u'], timeoutMs: 5000 });
    expect(Number(id.stdout.trim())).toBe(user.uid);
    const env = await runner.run({ command: '/usr/bin/env', args: [], timeoutMs: 5000, env: { PGPASSFILE: '/x' } });
    const keys = env.stdout.trim().split('\n').map((l) => l.split('=')[0]).sort();
    expect(keys).toEqual(['LANG', 'LC_ALL', 'PATH', 'PGPASSFILE', 'TZ']);
    const echo = await runner.run({ command: '/bin/echo', args: ['$(id)', '; rm -rf /'], timeoutMs: 5000 });
    expect(echo.stdout).toBe('$(id) ; rm -rf /\n');
  });

  it('maps exit codes, timeouts and spawn failures to typed errors', async () => {
    const runner = new PgCommandRunner(user);
    await expect(runner.run({ command: '/bin/false', args: [], timeoutMs: 5000 })).rejects.toMatchObject({
      code: 'COMMAND_FAILED',
      failure: { exitCode: 1 },
    });
    expect((await runner.run({ command: '/bin/false', args: [], timeoutMs: 5000, okExitCodes: [1] })).exitCode).toBe(1);
    const t0 = Date.now();
    const timeout = await runner.run({ command: '/bin/sleep', args: ['10'], timeoutMs: 200 }).catch((e: unknown) => e);
    expect(timeout).toBeInstanceOf(PgCommandError);
    expect(timeout).toMatchObject({ code: 'COMMAND_TIMEOUT', failure: { signal: 'SIGTERM' } });
    expect(Date.now() - t0).toBeLessThan(3000);
    await expect(runner.run({ command: '/nonexistent/binary', args: [], timeoutMs: 1000 })).rejects.toMatchObject({ code: 'COMMAND_SPAWN_FAILED' });
  });

  it('bounds captured output, keeping the head and the tail', async () => {
    const runner = new PgCommandRunner(user);
    const res = await runner.run({ command: '/usr/bin/seq', args: ['1', '200000'], timeoutMs: 10_000, maxOutputBytes: 200 });
    expect(res.stdout.startsWith('1\n2\n3\n')).toBe(true);
    expect(res.stdout.endsWith('199999\n200000\n')).toBe(true);
    expect(res.stdout).toMatch(/\[\.\.\. \d+ bytes dropped \.\.\.\]/);
    expect(res.stdout.length).toBeLessThan(300);
  });

  it('BoundedOutput keeps exactly head + tail (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 50 }), { maxLength: 20 }), fc.integer({ min: 2, max: 100 }), (chunks, max) => {
        const b = new BoundedOutput(max);
        const all = Buffer.concat(chunks.map((c) => Buffer.from(c)));
        for (const c of chunks) b.push(Buffer.from(c));
        expect(b.totalBytes).toBe(all.length);
        expect(b.truncated).toBe(all.length > max);
        if (all.length <= max) expect(b.text()).toBe(all.toString('utf8'));
      }),
    );
  });
});
