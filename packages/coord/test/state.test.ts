import { hubha } from '@hubha/proto/coord';
import { EntryType, RaftCore } from '@hubha/raft';
import Long from 'long';
import { describe, expect, it } from 'vitest';
import {
  CoordSnapshotError,
  CoordStateMachine,
  CoordUsageError,
  MAX_KEY_BYTES,
  MAX_LEASE_NAMES,
  MAX_RANGE_LIMIT,
  MAX_SESSIONS,
  MAX_TTL_MS,
  MAX_TXN_OPS,
  MAX_VALUE_BYTES,
  MIN_TTL_MS,
  WatchHub,
  compareKeys,
  decodeRequest,
  decodeResult,
  encodeRequest,
  encodeResult,
  validateCommand,
  validateRequest,
} from '../src/index.js';
import type { Command, Compare, CoordRequest, WatchEvent } from '../src/index.js';
import { Driver, as, b, errorCode, hex, storeOf, td } from './state-helpers.js';

const pb = hubha.coord;

function grant(name: string, holder: string, ttlMs = 5000, metadata?: Record<string, string>): Command {
  return { type: 'lease-grant', name, holder, ttlMs, ...(metadata === undefined ? {} : { metadata }) };
}

describe('KV', () => {
  it('put records create/mod revisions and versions; the revision moves once per put', () => {
    const d = new Driver();
    const r1 = as(d.run({ type: 'put', key: 'a', value: b('1') }), 'put');
    expect(r1).toEqual({ type: 'put', revision: 1, prevKv: null });
    const r2 = as(d.run({ type: 'put', key: 'a', value: b('2'), prevKv: true }), 'put');
    expect(r2.revision).toBe(2);
    expect(r2.prevKv).toEqual({ key: 'a', value: b('1'), createRevision: 1, modRevision: 1, version: 1, lease: null });
    d.run({ type: 'put', key: 'b', value: b('x') });
    expect(d.sm.get('a')).toEqual({ key: 'a', value: b('2'), createRevision: 1, modRevision: 2, version: 2, lease: null });
    expect(d.sm.get('b')).toMatchObject({ createRevision: 3, modRevision: 3, version: 1 });
    expect(d.sm.get('zz')).toBeNull();
    expect(d.sm.revision).toBe(3);
    expect(d.sm.appliedIndex).toBe(3);
  });

  it('put emits a put event with the previous value', () => {
    const d = new Driver();
    expect(d.do({ type: 'put', key: 'k', value: b('v1') }).events).toEqual([
      { type: 'put', key: 'k', value: b('v1'), createRevision: 1, modRevision: 1, version: 1, revision: 1 },
    ]);
    expect(d.do({ type: 'put', key: 'k', value: b('v2') }).events).toEqual([
      { type: 'put', key: 'k', value: b('v2'), prevValue: b('v1'), createRevision: 1, modRevision: 2, version: 2, revision: 2 },
    ]);
  });

  it('delete returns the count and (on request) the previous key-value; a miss changes nothing', () => {
    const d = new Driver();
    d.run({ type: 'put', key: 'k', value: b('v') });
    expect(d.run({ type: 'delete', key: 'nope' })).toEqual({ type: 'delete', revision: 1, deleted: 0, prevKvs: [] });
    expect(d.sm.revision).toBe(1);
    const out = d.do({ type: 'delete', key: 'k', prevKv: true });
    expect(out.result).toEqual({
      type: 'delete',
      revision: 2,
      deleted: 1,
      prevKvs: [{ key: 'k', value: b('v'), createRevision: 1, modRevision: 1, version: 1, lease: null }],
    });
    expect(out.events).toEqual([{ type: 'delete', key: 'k', value: new Uint8Array(0), prevValue: b('v'), createRevision: 1, modRevision: 2, version: 0, revision: 2 }]);
    expect(d.sm.get('k')).toBeNull();
    // Re-created: a new create revision and version 1.
    d.run({ type: 'put', key: 'k', value: b('again') });
    expect(d.sm.get('k')).toMatchObject({ createRevision: 3, modRevision: 3, version: 1 });
  });

  it('delete-range deletes a prefix in key order, as one revision', () => {
    const d = new Driver();
    for (const k of ['app/b', 'app/a', 'apple', 'ap', 'b']) d.run({ type: 'put', key: k, value: b(k) });
    const out = d.do({ type: 'delete-range', prefix: 'app', prevKv: true });
    const r = as(out.result, 'delete-range');
    expect(r.deleted).toBe(3);
    expect(r.revision).toBe(6);
    expect(r.prevKvs.map((kv) => kv.key)).toEqual(['app/a', 'app/b', 'apple']);
    expect(out.events.map((e) => [e.type, e.key, e.revision])).toEqual([
      ['delete', 'app/a', 6],
      ['delete', 'app/b', 6],
      ['delete', 'apple', 6],
    ]);
    expect(d.sm.range('').kvs.map((kv) => kv.key)).toEqual(['ap', 'b']);
    expect(d.run({ type: 'delete-range', prefix: 'zzz' })).toEqual({ type: 'delete-range', revision: 6, deleted: 0, prevKvs: [] });
    expect(errorCode(d.run({ type: 'delete-range', prefix: '' }))).toBe('invalid-prefix');
  });

  it('range: prefix, UTF-8 byte order, limit with more, pagination, clamped limits', () => {
    const d = new Driver();
    // UTF-16 order would put "\u{1F600}" (surrogates D83D..) before "\uFFFD"; UTF-8 order puts it after.
    const keys = ['k/\u{1F600}', 'k/\uFFFD', 'k/a', 'k/b', 'k/c', 'kz', 'j'];
    for (const k of keys) d.run({ type: 'put', key: k, value: b('') });
    const all = d.sm.range('k/').kvs.map((kv) => kv.key);
    expect(all).toEqual(['k/a', 'k/b', 'k/c', 'k/\uFFFD', 'k/\u{1F600}']);
    const sortedBytes = [...all].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)));
    expect(all).toEqual(sortedBytes);
    const page1 = d.sm.range('k/', 2);
    expect(page1.kvs.map((kv) => kv.key)).toEqual(['k/a', 'k/b']);
    expect(page1.more).toBe(true);
    const page2 = d.sm.range('k/', 2, 'k/b');
    expect(page2.kvs.map((kv) => kv.key)).toEqual(['k/c', 'k/\uFFFD']);
    expect(page2.more).toBe(true);
    const page3 = d.sm.range('k/', 2, 'k/\uFFFD');
    expect(page3.kvs.map((kv) => kv.key)).toEqual(['k/\u{1F600}']);
    expect(page3.more).toBe(false);
    expect(d.sm.range('k/', 3).more).toBe(true);
    expect(d.sm.range('k/', 5).more).toBe(false);
    expect(d.sm.range('', 0).kvs).toHaveLength(keys.length);
    expect(d.sm.range('', -3).kvs).toHaveLength(keys.length);
    expect(d.sm.range('nothing').kvs).toEqual([]);
    expect(d.sm.range('', 1, 'zzz').kvs).toEqual([]);
  });

  it('range returns at most MAX_RANGE_LIMIT keys', () => {
    const d = new Driver();
    d.run({
      type: 'txn',
      compare: [],
      success: Array.from({ length: MAX_TXN_OPS }, (_, i) => ({ type: 'put' as const, key: `k${String(i).padStart(4, '0')}`, value: b('') })),
      failure: [],
    });
    expect(d.sm.range('', MAX_RANGE_LIMIT + 5).kvs).toHaveLength(MAX_TXN_OPS);
    expect(d.sm.range('', 10).more).toBe(true);
  });

  it('compareKeys is UTF-8 byte order', () => {
    const words = ['', 'a', 'ab', 'b', '\u00e9', '\uFFFD', '\uE000', '\u{10000}', '\u{1F600}', 'a\u{1F600}', 'a\uFFFF'];
    const byUtf8 = [...words].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)));
    expect([...words].sort(compareKeys)).toEqual(byUtf8);
  });

  it('validates keys and values: sizes in UTF-8 bytes, no empty key, no lone surrogate', () => {
    const d = new Driver();
    expect(errorCode(d.run({ type: 'put', key: '', value: b('') }))).toBe('invalid-key');
    expect(errorCode(d.run({ type: 'put', key: 'x'.repeat(MAX_KEY_BYTES + 1), value: b('') }))).toBe('invalid-key');
    // 512 two-byte characters = 1024 bytes: fine; one more byte: refused.
    expect(as(d.run({ type: 'put', key: '\u00e9'.repeat(512), value: b('') }), 'put').revision).toBe(1);
    expect(errorCode(d.run({ type: 'put', key: '\u00e9'.repeat(512) + 'x', value: b('') }))).toBe('invalid-key');
    expect(errorCode(d.run({ type: 'put', key: 'k', value: new Uint8Array(MAX_VALUE_BYTES + 1) }))).toBe('value-too-large');
    expect(as(d.run({ type: 'put', key: 'big', value: new Uint8Array(MAX_VALUE_BYTES) }), 'put').revision).toBe(2);
    expect(errorCode(d.run({ type: 'delete', key: '' }))).toBe('invalid-key');
    expect(validateCommand({ type: 'put', key: 'a\ud800', value: b('') })?.code).toBe('invalid-key');
    // The encoder writes a lone surrogate as bytes that are not UTF-8: the entry does not decode.
    expect(errorCode(d.run({ type: 'put', key: 'a\ud800', value: b('') }))).toBe('malformed-entry');
    expect(d.sm.revision).toBe(2);
  });
});

describe('Txn', () => {
  function setup(): Driver {
    const d = new Driver();
    d.run({ type: 'put', key: 'a', value: b('10') }); // rev 1
    d.run({ type: 'put', key: 'a', value: b('20') }); // rev 2: a create 1 mod 2 version 2
    d.run({ type: 'put', key: 'b', value: b('x') }); // rev 3
    return d;
  }

  const cases: [string, Compare, boolean][] = [
    ['value equal', { key: 'a', target: 'value', op: 'equal', value: b('20') }, true],
    ['value not-equal', { key: 'a', target: 'value', op: 'not-equal', value: b('20') }, false],
    ['value greater', { key: 'a', target: 'value', op: 'greater', value: b('1') }, true],
    ['value less', { key: 'a', target: 'value', op: 'less', value: b('3') }, true],
    ['value on a missing key (not-equal) is false', { key: 'zz', target: 'value', op: 'not-equal', value: b('') }, false],
    ['value on a missing key (equal "") is false', { key: 'zz', target: 'value', op: 'equal', value: b('') }, false],
    ['mod-revision equal', { key: 'a', target: 'mod-revision', op: 'equal', number: 2 }, true],
    ['mod-revision less', { key: 'a', target: 'mod-revision', op: 'less', number: 2 }, false],
    ['create-revision equal', { key: 'a', target: 'create-revision', op: 'equal', number: 1 }, true],
    ['create-revision greater', { key: 'b', target: 'create-revision', op: 'greater', number: 2 }, true],
    ['version equal', { key: 'a', target: 'version', op: 'equal', number: 2 }, true],
    ['version of a missing key is 0', { key: 'zz', target: 'version', op: 'equal', number: 0 }, true],
    ['mod-revision of a missing key is 0', { key: 'zz', target: 'mod-revision', op: 'less', number: 1 }, true],
    ['exists equal true', { key: 'a', target: 'exists', op: 'equal', exists: true }, true],
    ['exists equal false on a present key', { key: 'a', target: 'exists', op: 'equal', exists: false }, false],
    ['exists not-equal true on a missing key', { key: 'zz', target: 'exists', op: 'not-equal', exists: true }, true],
  ];
  for (const [name, compare, expected] of cases) {
    it(`compare: ${name}`, () => {
      const d = setup();
      const r = as(d.run({ type: 'txn', compare: [compare], success: [{ type: 'get', key: 'a' }], failure: [{ type: 'get', key: 'b' }] }), 'txn');
      expect(r.succeeded).toBe(expected);
      expect(as(r.results[0], 'get').kv?.key).toBe(expected ? 'a' : 'b');
    });
  }

  it('all compares must hold; the branch runs in order as one revision, later ops see earlier ones', () => {
    const d = setup();
    const out = d.do({
      type: 'txn',
      compare: [
        { key: 'a', target: 'version', op: 'equal', number: 2 },
        { key: 'c', target: 'exists', op: 'equal', exists: false },
      ],
      success: [
        { type: 'put', key: 'c', value: b('new') },
        { type: 'get', key: 'c' },
        { type: 'put', key: 'a', value: b('30'), prevKv: true },
        { type: 'delete', key: 'b', prevKv: true },
        { type: 'delete', key: 'missing' },
      ],
      failure: [],
    });
    const r = as(out.result, 'txn');
    expect(r.succeeded).toBe(true);
    expect(r.revision).toBe(4);
    expect(d.sm.revision).toBe(4);
    expect(r.results).toEqual([
      { type: 'put', revision: 4, prevKv: null },
      { type: 'get', kv: { key: 'c', value: b('new'), createRevision: 4, modRevision: 4, version: 1, lease: null } },
      { type: 'put', revision: 4, prevKv: { key: 'a', value: b('20'), createRevision: 1, modRevision: 2, version: 2, lease: null } },
      { type: 'delete', revision: 4, deleted: 1, prevKvs: [{ key: 'b', value: b('x'), createRevision: 3, modRevision: 3, version: 1, lease: null }] },
      { type: 'delete', revision: 4, deleted: 0, prevKvs: [] },
    ]);
    expect(out.events.map((e) => [e.type, e.key, e.revision])).toEqual([
      ['put', 'c', 4],
      ['put', 'a', 4],
      ['delete', 'b', 4],
    ]);
    // The same compares now fail: the failure branch (empty) runs and nothing changes.
    const again = as(d.run({ type: 'txn', compare: [{ key: 'c', target: 'exists', op: 'equal', exists: false }], success: [{ type: 'delete', key: 'a' }], failure: [] }), 'txn');
    expect(again).toEqual({ type: 'txn', revision: 4, succeeded: false, results: [] });
  });

  it('two puts of one key in a Txn: version counts both, one revision', () => {
    const d = new Driver();
    d.run({ type: 'txn', compare: [], success: [{ type: 'put', key: 'k', value: b('1') }, { type: 'put', key: 'k', value: b('2') }], failure: [] });
    expect(d.sm.get('k')).toMatchObject({ value: b('2'), version: 2, createRevision: 1, modRevision: 1 });
    expect(d.sm.revision).toBe(1);
  });

  it('a Txn of gets only is no revision', () => {
    const d = setup();
    expect(as(d.run({ type: 'txn', compare: [], success: [{ type: 'get', key: 'a' }], failure: [] }), 'txn').revision).toBe(3);
    expect(d.sm.revision).toBe(3);
  });

  it('validation: too many ops or compares, bad keys in any branch, exists with an order op', () => {
    const d = setup();
    const put = { type: 'put' as const, key: 'k', value: b('') };
    expect(errorCode(d.run({ type: 'txn', compare: [], success: Array.from({ length: MAX_TXN_OPS + 1 }, () => put), failure: [] }))).toBe('too-many-ops');
    expect(errorCode(d.run({ type: 'txn', compare: [], success: [], failure: Array.from({ length: MAX_TXN_OPS + 1 }, () => put) }))).toBe('too-many-ops');
    expect(
      errorCode(d.run({ type: 'txn', compare: Array.from({ length: 129 }, () => ({ key: 'a', target: 'exists' as const, op: 'equal' as const, exists: true })), success: [], failure: [] })),
    ).toBe('too-many-ops');
    // A bad op in the branch that does not run is still refused.
    expect(errorCode(d.run({ type: 'txn', compare: [], success: [], failure: [{ type: 'get', key: '' }] }))).toBe('invalid-key');
    expect(errorCode(d.run({ type: 'txn', compare: [{ key: '', target: 'version', op: 'equal', number: 0 }], success: [], failure: [] }))).toBe('invalid-key');
    // Shapes TypeScript rules out arrive through the wire: check the decoder refuses them.
    const raw = (txn: hubha.coord.Txn.$Properties): Uint8Array => pb.Request.encode({ command: { txn } }).finish();
    expect(errorCode(d.raw(raw({ compare: [{ key: 'a', target: pb.CompareTarget.COMPARE_TARGET_EXISTS, op: pb.CompareOp.COMPARE_OP_GREATER }] })).result)).toBe('invalid-compare');
    expect(errorCode(d.raw(raw({ compare: [{ key: 'a', target: 0, op: 1 }] })).result)).toBe('invalid-compare');
    expect(errorCode(d.raw(raw({ compare: [{ key: 'a', target: 1, op: 9 as hubha.coord.CompareOp }] })).result)).toBe('invalid-compare');
    expect(errorCode(d.raw(raw({ success: [{}] })).result)).toBe('invalid-op');
    expect(errorCode(d.raw(raw({ compare: [{ key: 'a', target: 4, op: 1, number: Long.fromString('9007199254740992', true) }] })).result)).toBe('invalid-compare');
    expect(d.sm.revision).toBe(3);
  });
});

describe('leases', () => {
  it('grant issues epoch 1 to a free name; the holder re-granting keeps the epoch and counts a renewal', () => {
    const d = new Driver();
    const out = d.do(grant('active-hub', 'hub1', 5000, { address: '10.0.0.1:5432' }));
    const g = as(out.result, 'lease-grant');
    expect(g).toEqual({
      type: 'lease-grant',
      revision: 1,
      granted: true,
      lease: { name: 'active-hub', holder: 'hub1', ttlMs: 5000, metadata: { address: '10.0.0.1:5432' }, epoch: 1, grantRevision: 1, renewCount: 0 },
    });
    expect(out.leaseChanges).toEqual([{ name: 'active-hub', lease: g.lease }]);
    expect(out.events).toEqual([]);
    const again = as(d.run(grant('active-hub', 'hub1', 9000, { address: '10.0.0.9:5432' })), 'lease-grant');
    expect(again.granted).toBe(true);
    expect(again.lease).toEqual({ name: 'active-hub', holder: 'hub1', ttlMs: 9000, metadata: { address: '10.0.0.9:5432' }, epoch: 1, grantRevision: 1, renewCount: 1 });
    expect(d.sm.lease('active-hub')).toEqual(again.lease);
    expect(d.sm.revision).toBe(2);
  });

  it('grant to another holder is refused with the current holder and epoch, changing nothing', () => {
    const d = new Driver();
    d.run(grant('active-hub', 'hub1', 5000, { address: 'a' }));
    const out = d.do(grant('active-hub', 'hub2'));
    expect(out.result).toEqual({
      type: 'lease-grant',
      revision: 1,
      granted: false,
      reason: 'held-by-other',
      lease: { name: 'active-hub', holder: 'hub1', ttlMs: 5000, metadata: { address: 'a' }, epoch: 1, grantRevision: 1, renewCount: 0 },
    });
    expect(out.leaseChanges).toEqual([]);
    expect(d.sm.revision).toBe(1);
  });

  it('renew: only the holder at its epoch; metadata replaced when given', () => {
    const d = new Driver();
    d.run(grant('l', 'h1', 5000, { a: '1' }));
    const r = as(d.run({ type: 'lease-renew', name: 'l', holder: 'h1', epoch: 1 }), 'lease-renew');
    expect(r).toMatchObject({ renewed: true, revision: 2, lease: { renewCount: 1, metadata: { a: '1' } } });
    const r2 = as(d.run({ type: 'lease-renew', name: 'l', holder: 'h1', epoch: 1, metadata: { b: '2' } }), 'lease-renew');
    expect(r2.lease?.metadata).toEqual({ b: '2' });
    expect(r2.lease?.renewCount).toBe(2);
    const current = d.sm.lease('l');
    expect(d.run({ type: 'lease-renew', name: 'l', holder: 'h2', epoch: 1 })).toEqual({ type: 'lease-renew', revision: 3, renewed: false, reason: 'lease-lost', lease: current });
    expect(d.run({ type: 'lease-renew', name: 'l', holder: 'h1', epoch: 2 })).toMatchObject({ renewed: false, reason: 'lease-lost', lease: { holder: 'h1', epoch: 1 } });
    expect(d.run({ type: 'lease-renew', name: 'free', holder: 'h1', epoch: 1 })).toEqual({ type: 'lease-renew', revision: 3, renewed: false, reason: 'lease-lost', lease: null });
    expect(d.sm.revision).toBe(3);
  });

  it('release frees only on a match; the last epoch is kept and the next grant gets one more', () => {
    const d = new Driver();
    d.run(grant('l', 'h1'));
    expect(d.run({ type: 'lease-release', name: 'l', holder: 'h2', epoch: 1 })).toMatchObject({ released: false, reason: 'lease-lost', lease: { holder: 'h1' }, deleted: 0 });
    expect(d.run({ type: 'lease-release', name: 'l', holder: 'h1', epoch: 7 })).toMatchObject({ released: false });
    const out = d.do({ type: 'lease-release', name: 'l', holder: 'h1', epoch: 1 });
    expect(out.result).toMatchObject({ type: 'lease-release', released: true, revision: 2, deleted: 0, lease: { holder: 'h1', epoch: 1 } });
    expect(out.leaseChanges).toEqual([{ name: 'l', lease: null }]);
    expect(d.sm.lease('l')).toBeNull();
    expect(d.sm.lastEpoch('l')).toBe(1);
    expect(d.run({ type: 'lease-release', name: 'l', holder: 'h1', epoch: 1 })).toMatchObject({ released: false, lease: null });
    expect(as(d.run(grant('l', 'h2')), 'lease-grant').lease).toMatchObject({ holder: 'h2', epoch: 2, grantRevision: 3, renewCount: 0 });
    expect(d.sm.lastEpoch('never')).toBe(0);
  });

  it('expire frees only when epoch and renew count still match: a renewal in between makes it stale', () => {
    const d = new Driver();
    d.run(grant('l', 'h1'));
    // The leader's timer saw (epoch 1, renewCount 0); a renewal is applied before its expiry.
    d.run({ type: 'lease-renew', name: 'l', holder: 'h1', epoch: 1 });
    const stale = d.do({ type: 'lease-expire', name: 'l', epoch: 1, renewCount: 0 });
    expect(stale.result).toMatchObject({ type: 'lease-expire', expired: false, reason: 'stale', deleted: 0, lease: { renewCount: 1 } });
    expect(stale.leaseChanges).toEqual([]);
    expect(d.sm.lease('l')).not.toBeNull();
    expect(d.run({ type: 'lease-expire', name: 'l', epoch: 2, renewCount: 1 })).toMatchObject({ expired: false });
    const rev = d.sm.revision;
    const out = d.do({ type: 'lease-expire', name: 'l', epoch: 1, renewCount: 1 });
    expect(out.result).toMatchObject({ type: 'lease-expire', expired: true, revision: rev + 1, lease: { epoch: 1, renewCount: 1 } });
    expect(d.sm.lease('l')).toBeNull();
    expect(d.run({ type: 'lease-expire', name: 'l', epoch: 1, renewCount: 1 })).toMatchObject({ expired: false, lease: null });
    expect(d.run({ type: 'lease-expire', name: 'never', epoch: 1, renewCount: 0 })).toMatchObject({ expired: false, lease: null });
  });

  it('an expiry issued for an earlier grant does not free a re-grant (epoch differs)', () => {
    const d = new Driver();
    d.run(grant('l', 'h1'));
    d.run({ type: 'lease-release', name: 'l', holder: 'h1', epoch: 1 });
    d.run(grant('l', 'h1'));
    expect(d.run({ type: 'lease-expire', name: 'l', epoch: 1, renewCount: 0 })).toMatchObject({ expired: false, lease: { epoch: 2 } });
    expect(d.sm.lease('l')?.epoch).toBe(2);
  });

  it('epochs are monotonic per name across grant, release, expiry and re-grant, independently per name', () => {
    const d = new Driver();
    const epochs: number[] = [];
    for (let round = 0; round < 6; round++) {
      const holder = round % 2 === 0 ? 'hub1' : 'hub2';
      const g = as(d.run(grant('active-hub', holder)), 'lease-grant');
      expect(g.granted).toBe(true);
      epochs.push(g.lease.epoch);
      as(d.run(grant('active-hub', holder)), 'lease-grant'); // idempotent re-grant
      if (round % 3 === 0) d.run({ type: 'lease-release', name: 'active-hub', holder, epoch: g.lease.epoch });
      else d.run({ type: 'lease-expire', name: 'active-hub', epoch: g.lease.epoch, renewCount: 1 });
      expect(d.sm.lease('active-hub')).toBeNull();
    }
    expect(epochs).toEqual([1, 2, 3, 4, 5, 6]);
    expect(as(d.run(grant('other', 'hub1')), 'lease-grant').lease.epoch).toBe(1);
    expect(d.sm.lastEpoch('active-hub')).toBe(6);
  });

  it('put attaches a key to a lease only at the held epoch (fencing)', () => {
    const d = new Driver();
    expect(errorCode(d.run({ type: 'put', key: 'k', value: b(''), lease: { name: 'l', epoch: 1 } }))).toBe('lease-not-held');
    d.run(grant('l', 'h1'));
    d.run({ type: 'lease-release', name: 'l', holder: 'h1', epoch: 1 });
    d.run(grant('l', 'h2'));
    // The old holder (epoch 1) is fenced out.
    const refused = d.run({ type: 'put', key: 'k', value: b('old'), lease: { name: 'l', epoch: 1 } });
    expect(refused).toMatchObject({ type: 'error', code: 'lease-epoch-mismatch' });
    expect(d.sm.get('k')).toBeNull();
    const rev = d.sm.revision;
    const ok = d.do({ type: 'put', key: 'k', value: b('new'), lease: { name: 'l', epoch: 2 } });
    expect(ok.result).toEqual({ type: 'put', revision: rev + 1, prevKv: null });
    expect(ok.events[0]?.lease).toEqual({ name: 'l', epoch: 2 });
    expect(d.sm.get('k')?.lease).toEqual({ name: 'l', epoch: 2 });
    // Also inside a Txn: the whole Txn is refused.
    const t = d.run({ type: 'txn', compare: [], success: [{ type: 'put', key: 'x', value: b('') }, { type: 'put', key: 'y', value: b(''), lease: { name: 'l', epoch: 1 } }], failure: [] });
    expect(t).toMatchObject({ type: 'error', code: 'lease-epoch-mismatch' });
    expect(t.type === 'error' && t.message).toContain('txn.success[1].put.lease');
    expect(d.sm.get('x')).toBeNull();
    expect(d.sm.revision).toBe(rev + 1);
  });

  it('freeing a lease deletes its keys: one revision, a delete event each, in key order', () => {
    const d = new Driver();
    d.run(grant('l', 'h1'));
    d.run(grant('m', 'h1'));
    const ref = { name: 'l', epoch: 1 };
    d.run({ type: 'put', key: 'svc/b', value: b('B'), lease: ref });
    d.run({ type: 'put', key: 'svc/a', value: b('A'), lease: ref });
    d.run({ type: 'put', key: 'svc/c', value: b('C'), lease: ref });
    d.run({ type: 'put', key: 'other', value: b('O'), lease: { name: 'm', epoch: 1 } });
    // Re-put without a lease: detached, survives.
    d.run({ type: 'put', key: 'svc/c', value: b('C2') });
    // Re-put to the other lease: moves.
    d.run({ type: 'put', key: 'svc/b', value: b('B2'), lease: { name: 'm', epoch: 1 } });
    d.run({ type: 'put', key: 'svc/d', value: b('D'), lease: ref });
    const rev = d.sm.revision;
    const out = d.do({ type: 'lease-expire', name: 'l', epoch: 1, renewCount: 0 });
    expect(out.result).toMatchObject({ type: 'lease-expire', expired: true, revision: rev + 1, deleted: 2 });
    expect(out.events).toEqual([
      { type: 'delete', key: 'svc/a', value: new Uint8Array(0), prevValue: b('A'), createRevision: 4, modRevision: rev + 1, version: 0, lease: ref, revision: rev + 1 },
      { type: 'delete', key: 'svc/d', value: new Uint8Array(0), prevValue: b('D'), createRevision: rev, modRevision: rev + 1, version: 0, lease: ref, revision: rev + 1 },
    ]);
    expect(out.leaseChanges).toEqual([{ name: 'l', lease: null }]);
    expect(d.sm.range('').kvs.map((kv) => kv.key)).toEqual(['other', 'svc/b', 'svc/c']);
    expect(d.sm.revision).toBe(rev + 1);
    // Release does the same for the other lease.
    const rel = d.do({ type: 'lease-release', name: 'm', holder: 'h1', epoch: 1 });
    expect(rel.result).toMatchObject({ released: true, deleted: 2 });
    expect(rel.events.map((e) => e.key)).toEqual(['other', 'svc/b']);
    expect(d.sm.range('').kvs.map((kv) => kv.key)).toEqual(['svc/c']);
  });

  it('validation: names, holders, ttl bounds, metadata bounds, epochs', () => {
    const d = new Driver();
    expect(errorCode(d.run(grant('', 'h')))).toBe('invalid-lease-name');
    expect(errorCode(d.run(grant('x'.repeat(256), 'h')))).toBe('invalid-lease-name');
    expect(as(d.run(grant('x'.repeat(255), 'h')), 'lease-grant').granted).toBe(true);
    expect(errorCode(d.run(grant('a\nb', 'h')))).toBe('invalid-lease-name');
    expect(errorCode(d.run(grant('l', '')))).toBe('invalid-holder');
    expect(errorCode(d.run(grant('l', 'h\u0000')))).toBe('invalid-holder');
    expect(errorCode(d.run(grant('l', 'h', MIN_TTL_MS - 1)))).toBe('invalid-ttl');
    expect(errorCode(d.run(grant('l', 'h', MAX_TTL_MS + 1)))).toBe('invalid-ttl');
    // A fraction cannot cross the wire (uint64), but a caller-built command is checked too.
    expect(validateCommand(grant('l', 'h', 1000.5))?.code).toBe('invalid-ttl');
    expect(as(d.run(grant('l1', 'h', MIN_TTL_MS)), 'lease-grant').granted).toBe(true);
    expect(as(d.run(grant('l2', 'h', MAX_TTL_MS)), 'lease-grant').granted).toBe(true);
    const many = Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`k${i}`, 'v']));
    expect(errorCode(d.run(grant('l', 'h', 5000, many)))).toBe('invalid-metadata');
    expect(errorCode(d.run(grant('l', 'h', 5000, { k: 'v'.repeat(4097) })))).toBe('invalid-metadata');
    expect(errorCode(d.run(grant('l', 'h', 5000, { ['k'.repeat(256)]: 'v' })))).toBe('invalid-metadata');
    const big = Object.fromEntries(Array.from({ length: 5 }, (_, i) => [`k${i}`, 'v'.repeat(4000)]));
    expect(errorCode(d.run(grant('l', 'h', 5000, big)))).toBe('invalid-metadata');
    expect(errorCode(d.run({ type: 'lease-renew', name: 'l1', holder: 'h', epoch: 0 }))).toBe('invalid-epoch');
    expect(errorCode(d.run({ type: 'lease-renew', name: 'l1', holder: 'h', epoch: 1, metadata: many }))).toBe('invalid-metadata');
    expect(errorCode(d.run({ type: 'lease-release', name: 'l1', holder: '', epoch: 1 }))).toBe('invalid-holder');
    expect(errorCode(d.run({ type: 'lease-expire', name: 'l1', epoch: 1, renewCount: -1 }))).toBe('invalid-renew-count');
    expect(errorCode(d.run({ type: 'put', key: 'k', value: b(''), lease: { name: 'l1', epoch: 0 } }))).toBe('invalid-epoch');
    // uint64 beyond 2^53 - 1 on the wire.
    const huge = Long.fromString('9007199254740993', true);
    expect(errorCode(d.raw(pb.Request.encode({ command: { leaseRenew: { name: 'l1', holder: 'h', epoch: huge } } }).finish()).result)).toBe('invalid-epoch');
    expect(errorCode(d.raw(pb.Request.encode({ command: { leaseGrant: { name: 'l', holder: 'h', ttlMs: huge } } }).finish()).result)).toBe('invalid-ttl');
    expect(errorCode(d.raw(pb.Request.encode({ command: { leaseExpire: { name: 'l1', epoch: 1, renewCount: huge } } }).finish()).result)).toBe('invalid-renew-count');
    expect(d.sm.leases().map((l) => l.name)).toEqual(['l1', 'l2', 'x'.repeat(255)]);
    expect(d.sm.revision).toBe(3);
  });

  it('metadata with a "__proto__" key is plain data', () => {
    const d = new Driver();
    const metadata = JSON.parse('{"__proto__": "x", "b": "2", "a": "1"}') as Record<string, string>;
    const g = as(d.run(grant('l', 'h', 5000, metadata)), 'lease-grant');
    expect(Object.keys(g.lease.metadata)).toEqual(['__proto__', 'a', 'b']);
    expect(g.lease.metadata['__proto__']).toBe('x');
    const restored = CoordStateMachine.restore(d.sm.snapshot());
    expect(restored.lease('l')?.metadata['__proto__']).toBe('x');
  });

  it('lease names are bounded: a new name beyond MAX_LEASE_NAMES is refused, known names still work', () => {
    const d = new Driver();
    for (let i = 0; i < MAX_LEASE_NAMES; i++) {
      d.run(grant(`n${i}`, 'h'));
      if (i % 2 === 0) d.run({ type: 'lease-release', name: `n${i}`, holder: 'h', epoch: 1 });
    }
    expect(errorCode(d.run(grant('one-more', 'h')))).toBe('too-many-leases');
    expect(as(d.run(grant('n0', 'h2')), 'lease-grant').lease.epoch).toBe(2);
  });

  it('leases() lists held leases in name order, optionally by prefix', () => {
    const d = new Driver();
    for (const n of ['b', 'a/2', 'a/1', 'c']) d.run(grant(n, 'h'));
    expect(d.sm.leases().map((l) => l.name)).toEqual(['a/1', 'a/2', 'b', 'c']);
    expect(d.sm.leases('a/').map((l) => l.name)).toEqual(['a/1', 'a/2']);
  });
});

describe('exactly-once', () => {
  it('a retried put (same client, same seq) returns the cached result and does not apply again', () => {
    const d = new Driver();
    const first = d.do({ type: 'put', key: 'k', value: b('v') }, 'c1', 1);
    // Another client writes in between.
    d.run({ type: 'put', key: 'k', value: b('w') }, 'c2', 1);
    const retry = d.do({ type: 'put', key: 'k', value: b('v') }, 'c1', 1);
    expect(retry.result).toEqual(first.result);
    expect(retry.events).toEqual([]);
    expect(d.sm.get('k')).toMatchObject({ value: b('w'), version: 2 });
    expect(d.sm.revision).toBe(2);
    // The next seq applies.
    expect(as(d.run({ type: 'put', key: 'k', value: b('x') }, 'c1', 2), 'put').revision).toBe(3);
  });

  it('a retried lease grant does not bump the epoch twice', () => {
    const d = new Driver();
    const first = as(d.run(grant('active-hub', 'hub1'), 'hub1', 10), 'lease-grant');
    d.run({ type: 'lease-release', name: 'active-hub', holder: 'hub1', epoch: 1 }, 'hub1', 11);
    // A retry of seq 11 (the release) and of an older seq.
    expect(d.run({ type: 'lease-release', name: 'active-hub', holder: 'hub1', epoch: 1 }, 'hub1', 11)).toMatchObject({ released: true });
    expect(d.run(grant('active-hub', 'hub1'), 'hub1', 10)).toMatchObject({ type: 'error', code: 'stale-sequence' });
    expect(d.sm.lease('active-hub')).toBeNull();
    expect(d.sm.lastEpoch('active-hub')).toBe(1);
    expect(first.lease.epoch).toBe(1);
  });

  it('the same request retried through a grant: the epoch moves once', () => {
    const d = new Driver();
    const a = d.run(grant('l', 'h'), 'h', 1);
    const b2 = d.run(grant('l', 'h'), 'h', 1);
    expect(b2).toEqual(a);
    expect(d.sm.lease('l')?.renewCount).toBe(0);
    expect(d.sm.revision).toBe(1);
  });

  it('refusals are cached too: a retry answers the same even after the state changed', () => {
    const d = new Driver();
    const refused = d.run({ type: 'put', key: 'k', value: b(''), lease: { name: 'l', epoch: 1 } }, 'c', 1);
    expect(errorCode(refused)).toBe('lease-not-held');
    d.run(grant('l', 'h'));
    expect(d.run({ type: 'put', key: 'k', value: b(''), lease: { name: 'l', epoch: 1 } }, 'c', 1)).toEqual(refused);
    expect(d.sm.get('k')).toBeNull();
    const invalid = d.run({ type: 'put', key: '', value: b('') }, 'c', 2);
    expect(d.run({ type: 'put', key: '', value: b('') }, 'c', 2)).toEqual(invalid);
    expect(d.sm.session('c')?.lastSeq).toBe(2);
  });

  it('a client may skip seqs; older seqs are stale', () => {
    const d = new Driver();
    d.run({ type: 'put', key: 'a', value: b('') }, 'c', 5);
    expect(as(d.run({ type: 'put', key: 'a', value: b('') }, 'c', 9), 'put').revision).toBe(2);
    expect(errorCode(d.run({ type: 'put', key: 'a', value: b('') }, 'c', 6))).toBe('stale-sequence');
    expect(d.sm.session('c')).toMatchObject({ lastSeq: 9 });
  });

  it('envelope validation: client ids, seq with and without a client', () => {
    const d = new Driver();
    const put: Command = { type: 'put', key: 'a', value: b('') };
    expect(errorCode(d.run(put, 'c', 0))).toBe('invalid-sequence');
    expect(errorCode(d.run(put, '', 3))).toBe('invalid-sequence');
    expect(errorCode(d.run(put, 'x'.repeat(256), 1))).toBe('invalid-client-id');
    expect(errorCode(d.run(put, 'a\tb', 1))).toBe('invalid-client-id');
    expect(errorCode(d.raw(pb.Request.encode({ clientId: 'c', seq: Long.fromString('18446744073709551615', true), command: { delete: { key: 'a' } } }).finish()).result)).toBe('invalid-sequence');
    expect(validateRequest({ clientId: 'c', seq: 0, command: put })?.code).toBe('invalid-sequence');
    expect(validateRequest({ clientId: 'c', seq: 1, command: put })).toBeNull();
    expect(d.sm.sessionCount).toBe(0);
    expect(d.sm.revision).toBe(0);
  });

  it('dedup survives snapshot and restore', () => {
    const d = new Driver();
    const first = d.run(grant('l', 'h', 5000, { addr: 'x' }), 'h', 1);
    const put = d.run({ type: 'put', key: 'k', value: b('v'), prevKv: true }, 'p', 7);
    const r = Driver.from(CoordStateMachine.restore(d.sm.snapshot()));
    expect(r.run(grant('l', 'h', 5000, { addr: 'x' }), 'h', 1)).toEqual(first);
    expect(r.run({ type: 'put', key: 'k', value: b('v'), prevKv: true }, 'p', 7)).toEqual(put);
    expect(r.sm.revision).toBe(2);
    expect(r.sm.lease('l')?.renewCount).toBe(0);
    expect(errorCode(r.run({ type: 'put', key: 'k', value: b('v') }, 'p', 6))).toBe('stale-sequence');
  });

  it('the session table keeps the MAX_SESSIONS most recently used clients', () => {
    const d = new Driver();
    for (let i = 0; i < MAX_SESSIONS; i++) d.run({ type: 'delete', key: 'k' }, `c${i}`, 1);
    // c0 is used again: c1 is now the least recently used.
    d.run({ type: 'delete', key: 'k' }, 'c0', 1);
    d.run({ type: 'delete', key: 'k' }, 'new', 1);
    expect(d.sm.sessionCount).toBe(MAX_SESSIONS);
    expect(d.sm.session('c1')).toBeNull();
    expect(d.sm.session('c0')).not.toBeNull();
    expect(d.sm.session('c2')).not.toBeNull();
    // The eviction order survives a snapshot.
    const r = Driver.from(CoordStateMachine.restore(d.sm.snapshot()));
    r.run({ type: 'delete', key: 'k' }, 'newer', 1);
    expect(r.sm.session('c2')).toBeNull();
    expect(r.sm.session('c3')).not.toBeNull();
    expect(hex(r.sm.snapshot())).toBe(hex((d.run({ type: 'delete', key: 'k' }, 'newer', 1), d.sm.snapshot())));
  });
});

describe('entries', () => {
  it('empty entries are no-ops with a null result; the applied index moves', () => {
    const d = new Driver();
    expect(d.noop()).toEqual({ result: null, events: [], leaseChanges: [] });
    expect(d.sm.appliedIndex).toBe(1);
    expect(d.sm.revision).toBe(0);
  });

  it('undecodable data is an error result and changes nothing', () => {
    const d = new Driver();
    d.run({ type: 'put', key: 'k', value: b('v') });
    const before = storeOf(d.sm);
    for (const junk of [new Uint8Array([0xff, 0xff, 0xff]), new Uint8Array([0x0a, 0x05, 0x01]), b('hello world, not protobuf')]) {
      const out = d.raw(junk);
      expect(errorCode(out.result)).toMatch(/malformed-entry|invalid-/);
      expect(out.events).toEqual([]);
    }
    expect(errorCode(d.raw(pb.Request.encode({ clientId: 'c', seq: 1 }).finish()).result)).toBe('invalid-command');
    expect(errorCode(d.raw(pb.Request.encode({ command: {} }).finish()).result)).toBe('invalid-command');
    expect(storeOf(d.sm)).toEqual(before);
    expect(d.sm.appliedIndex).toBe(6);
  });

  it('entries must come in order: a gap or a repeat throws and changes nothing', () => {
    const d = new Driver();
    d.noop();
    const data = encodeRequest({ clientId: '', seq: 0, command: { type: 'put', key: 'k', value: b('') } });
    expect(() => d.sm.apply({ index: 3, term: 1, type: EntryType.Normal, data })).toThrow(CoordUsageError);
    expect(() => d.sm.apply({ index: 1, term: 1, type: EntryType.Normal, data })).toThrow(CoordUsageError);
    d.term = 3;
    d.noop();
    expect(() => d.sm.apply({ index: 3, term: 2, type: EntryType.Normal, data })).toThrow(/term/);
    try {
      d.sm.apply({ index: 9, term: 3, type: EntryType.Normal, data });
    } catch (err) {
      expect((err as CoordUsageError).code).toBe('COORD_USAGE');
    }
    expect(d.sm.appliedIndex).toBe(2);
    expect(d.sm.appliedTerm).toBe(3);
    expect(d.sm.revision).toBe(0);
  });

  it('request and result codecs round-trip', () => {
    const req: CoordRequest = {
      clientId: 'c',
      seq: 3,
      command: {
        type: 'txn',
        compare: [
          { key: 'a', target: 'value', op: 'greater', value: b('x') },
          { key: 'a', target: 'version', op: 'less', number: 4 },
          { key: 'b', target: 'exists', op: 'not-equal', exists: true },
        ],
        success: [{ type: 'put', key: 'a', value: b('1'), lease: { name: 'l', epoch: 2 }, prevKv: true }, { type: 'get', key: 'a' }],
        failure: [{ type: 'delete', key: 'b', prevKv: true }],
      },
    };
    expect(decodeRequest(encodeRequest(req))).toEqual({ ok: true, request: req });
    const d = new Driver();
    d.run(grant('l', 'h', 5000, { z: '1', a: '2' }));
    d.run(grant('l', 'h'));
    const results = [
      d.run({ type: 'put', key: 'a', value: b('1'), lease: { name: 'l', epoch: 1 }, prevKv: true }),
      d.run({ type: 'put', key: 'a', value: b('2'), prevKv: true }),
      d.run({ type: 'delete-range', prefix: 'a', prevKv: true }),
      d.run(req.command),
      d.run(grant('l', 'other')),
      d.run({ type: 'lease-renew', name: 'l', holder: 'h', epoch: 1 }),
      d.run({ type: 'lease-renew', name: 'l', holder: 'x', epoch: 1 }),
      d.run({ type: 'lease-expire', name: 'l', epoch: 9, renewCount: 0 }),
      d.run({ type: 'lease-release', name: 'l', holder: 'h', epoch: 1 }),
      d.run({ type: 'lease-release', name: 'l', holder: 'h', epoch: 1 }),
      d.run({ type: 'put', key: '', value: b('') }),
    ];
    for (const r of results) expect(decodeResult(encodeResult(r))).toEqual(r);
  });
});

describe('members', () => {
  const ctx = (peer: string, client: string): string => JSON.stringify({ peer, client });

  it('bootstrap members, then add-learner / promote / remove from ConfChange entries', () => {
    const d = new Driver([
      { id: 'hub1', peer: 'h1:7000', client: 'h1:7001' },
      { id: 'hub2', context: ctx('h2:7000', 'h2:7001') },
      { id: 'witness', role: 'voter' },
    ]);
    expect(d.sm.members()).toEqual([
      { id: 'hub1', role: 'voter', context: ctx('h1:7000', 'h1:7001'), peerAddress: 'h1:7000', clientAddress: 'h1:7001' },
      { id: 'hub2', role: 'voter', context: ctx('h2:7000', 'h2:7001'), peerAddress: 'h2:7000', clientAddress: 'h2:7001' },
      { id: 'witness', role: 'voter', context: null, peerAddress: null, clientAddress: null },
    ]);
    expect(d.conf({ type: 'add-learner', node: 'hub3', context: ctx('h3:7000', 'h3:7001') })).toEqual({ result: null, events: [], leaseChanges: [] });
    expect(d.sm.members().find((m) => m.id === 'hub3')).toEqual({ id: 'hub3', role: 'learner', context: ctx('h3:7000', 'h3:7001'), peerAddress: 'h3:7000', clientAddress: 'h3:7001' });
    d.conf({ type: 'promote-learner', node: 'hub3' });
    expect(d.sm.members().find((m) => m.id === 'hub3')).toMatchObject({ role: 'voter', peerAddress: 'h3:7000' });
    d.conf({ type: 'remove-node', node: 'witness' });
    expect(d.sm.members().map((m) => m.id)).toEqual(['hub1', 'hub2', 'hub3']);
    // Changes Raft refuses change nothing here either.
    d.conf({ type: 'add-learner', node: 'hub1', context: 'ignored' });
    d.conf({ type: 'promote-learner', node: 'hub2' });
    d.conf({ type: 'remove-node', node: 'ghost' });
    expect(d.sm.members().find((m) => m.id === 'hub1')?.context).toBe(ctx('h1:7000', 'h1:7001'));
    expect(d.sm.members()).toHaveLength(3);
    expect(d.sm.revision).toBe(0);
  });

  it('a context that is not the JSON shape is kept raw, without addresses', () => {
    const d = new Driver();
    d.conf({ type: 'add-learner', node: 'n1', context: 'host:1234' });
    d.conf({ type: 'add-learner', node: 'n2', context: '{"peer": 5, "client": "c:1"}' });
    expect(d.sm.members()).toEqual([
      { id: 'n1', role: 'learner', context: 'host:1234', peerAddress: null, clientAddress: null },
      { id: 'n2', role: 'learner', context: '{"peer": 5, "client": "c:1"}', peerAddress: null, clientAddress: 'c:1' },
    ]);
  });

  it("Raft's bootstrap entries fold onto the bootstrap members without changing them", () => {
    const boot = RaftCore.bootstrapState({ voters: ['hub2', 'hub1', 'witness'], learners: [] });
    const withTable = new Driver([{ id: 'hub1', peer: 'a:1' }, { id: 'hub2', peer: 'b:1' }, { id: 'witness', peer: 'c:1' }]);
    const before = withTable.sm.members();
    const plain = new Driver();
    for (const e of boot.entries) {
      withTable.sm.apply(e);
      plain.sm.apply(e);
    }
    expect(withTable.sm.members()).toEqual(before);
    expect(plain.sm.members().map((m) => [m.id, m.role])).toEqual([
      ['hub1', 'voter'],
      ['hub2', 'voter'],
      ['witness', 'voter'],
    ]);
  });

  it('an undecodable membership change is an error result', () => {
    const d = new Driver([{ id: 'a' }]);
    expect(errorCode(d.raw(b('not json'), EntryType.ConfChange).result)).toBe('malformed-entry');
    expect(d.sm.members().map((m) => m.id)).toEqual(['a']);
  });

  it('bootstrap members are validated', () => {
    expect(() => new CoordStateMachine({ bootstrapMembers: [{ id: 'a' }, { id: 'a' }] })).toThrow(CoordUsageError);
    expect(() => new CoordStateMachine({ bootstrapMembers: [{ id: 'has space' }] })).toThrow(CoordUsageError);
    expect(() => new CoordStateMachine({ bootstrapMembers: [{ id: 'a', context: '{}', peer: 'x' }] })).toThrow(CoordUsageError);
  });
});

describe('snapshot and restore', () => {
  function busy(): Driver {
    const d = new Driver([{ id: 'hub1', peer: 'a:1', client: 'a:2' }, { id: 'witness' }]);
    d.conf({ type: 'add-learner', node: 'hub2', context: '{"peer":"b:1"}' });
    d.run(grant('active-hub', 'hub1', 5000, { address: '10.0.0.1' }), 'hub1', 1);
    d.run({ type: 'put', key: 'hubs/active', value: b('hub1'), lease: { name: 'active-hub', epoch: 1 } }, 'hub1', 2);
    d.run({ type: 'put', key: 'config/x', value: b('1') }, 'op', 1);
    d.run(grant('tmp', 'x'));
    d.run({ type: 'lease-release', name: 'tmp', holder: 'x', epoch: 1 });
    d.run({ type: 'put', key: 'config/\u{1F600}', value: new Uint8Array([0, 1, 2, 255]) });
    d.run({ type: 'put', key: 'bad', value: b('') }, 'op', 0);
    d.noop();
    return d;
  }

  it('round-trips the whole state, byte for byte', () => {
    const d = busy();
    const snap = d.sm.snapshot();
    const r = CoordStateMachine.restore(snap);
    expect(r.image()).toEqual(d.sm.image());
    expect(hex(r.snapshot())).toBe(hex(snap));
    expect(r.lastEpoch('tmp')).toBe(1);
    expect(r.appliedIndex).toBe(d.sm.appliedIndex);
    expect(r.appliedTerm).toBe(d.sm.appliedTerm);
    expect(r.members()).toEqual(d.sm.members());
    // And it goes on identically.
    const cont = (dd: Driver): string => {
      dd.run(grant('tmp', 'y'));
      dd.run({ type: 'lease-expire', name: 'active-hub', epoch: 1, renewCount: 0 });
      return hex(dd.sm.snapshot());
    };
    expect(cont(Driver.from(r))).toBe(cont(d));
  });

  it('an empty machine round-trips', () => {
    const sm = new CoordStateMachine();
    expect(CoordStateMachine.restore(sm.snapshot()).image()).toEqual(sm.image());
  });

  it('corrupt data throws CoordSnapshotError with a stable code', () => {
    const snap = busy().sm.snapshot();
    const attempts: Uint8Array[] = [new Uint8Array(0), snap.subarray(0, snap.length - 3), b('garbage')];
    for (let i = 0; i < snap.length; i += Math.max(1, Math.floor(snap.length / 40))) {
      const flipped = new Uint8Array(snap);
      flipped[i] = (flipped[i] as number) ^ 0x40;
      attempts.push(flipped);
    }
    for (const data of attempts) {
      let caught: unknown = null;
      try {
        CoordStateMachine.restore(data);
      } catch (err) {
        caught = err;
      }
      expect(caught).toBeInstanceOf(CoordSnapshotError);
      expect((caught as CoordSnapshotError).code).toBe('COORD_SNAPSHOT_CORRUPT');
    }
  });

  /** A snapshot with a valid checksum around a StateSnapshot edited by `edit`. */
  function forged(edit: (s: hubha.coord.StateSnapshot) => void): Uint8Array {
    const env = pb.SnapshotEnvelope.decode(busy().sm.snapshot());
    const s = pb.StateSnapshot.decode(env.state);
    edit(s);
    const state = pb.StateSnapshot.encode(s).finish();
    let c = 0xffffffff;
    for (const byte of state) {
      c ^= byte;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    }
    return pb.SnapshotEnvelope.encode({ crc32: (c ^ 0xffffffff) >>> 0, state }).finish();
  }

  const violations: [string, (s: hubha.coord.StateSnapshot) => void, RegExp][] = [
    ['format', (s) => (s.format = 2), /format/],
    ['kv attached to a lease not held', (s) => (s.leases = s.leases.filter((l) => l.name !== 'active-hub')), /not held/],
    ['lease epoch not the last issued', (s) => (s.lastEpochs = s.lastEpochs.map((e) => ({ ...e, lastEpoch: 5 }))), /last epoch/],
    ['keys out of order', (s) => s.kvs.reverse(), /ascending/],
    ['key revision beyond the store revision', (s) => (s.revision = 1), /revisions|grantRevision|beyond/],
    ['session beyond the applied index', (s) => (s.appliedIndex = 2), /lastIndex/],
    ['sessions out of order', (s) => s.sessions.reverse(), /lastIndex order/],
    ['invalid ttl', (s) => ((s.leases[0] as hubha.coord.LeaseInfo).ttlMs = 1), /ttl/i],
    ['unknown member role', (s) => ((s.members[0] as hubha.coord.Member).role = 7 as hubha.coord.MemberRole), /role/],
    ['invalid member id', (s) => ((s.members[0] as hubha.coord.Member).id = ''), /node id/],
    ['unknown cached error code', (s) => ((s.sessions[s.sessions.length - 1] as hubha.coord.Session).lastResult = { error: { code: 'nope' } }), /unknown code/],
    ['uint64 beyond 2^53', (s) => (s.revision = Long.fromString('9007199254740993', true)), /MAX_SAFE_INTEGER/],
  ];
  for (const [name, edit, message] of violations) {
    it(`refuses a well-formed snapshot that breaks an invariant: ${name}`, () => {
      expect(() => CoordStateMachine.restore(forged(edit))).toThrow(message);
      expect(() => CoordStateMachine.restore(forged(edit))).toThrow(CoordSnapshotError);
    });
  }
});

describe('WatchHub', () => {
  function ev(type: 'put' | 'delete', key: string, revision: number): WatchEvent {
    return { type, key, value: type === 'put' ? b(key) : new Uint8Array(0), createRevision: revision, modRevision: revision, version: type === 'put' ? 1 : 0, revision };
  }

  it('fans out events to key and prefix subscriptions from their start revision', () => {
    const hub = new WatchHub();
    const key = hub.watch({ key: 'a/1' });
    const prefix = hub.watch({ key: 'a/', prefix: true });
    const all = hub.watch({ key: '', prefix: true });
    const future = hub.watch({ key: '', prefix: true, startRevision: 3 });
    if (!key.ok || !prefix.ok || !all.ok || !future.ok) throw new Error('refused');
    expect(key.startRevision).toBe(1);
    const d1 = hub.publish([ev('put', 'a/1', 1), ev('put', 'b', 1)]);
    expect(d1.map((d) => [d.id, d.events.map((e) => e.key)])).toEqual([
      [key.id, ['a/1']],
      [prefix.id, ['a/1']],
      [all.id, ['a/1', 'b']],
    ]);
    hub.publish([], 2); // a lease change moved the revision
    const d3 = hub.publish([ev('delete', 'a/2', 3)]);
    expect(d3.map((d) => d.id)).toEqual([prefix.id, all.id, future.id]);
    expect(hub.cancel(all.id)).toBe(true);
    expect(hub.cancel(all.id)).toBe(false);
    expect(hub.publish([ev('put', 'b', 4)]).map((d) => d.id)).toEqual([future.id]);
    expect(hub.revision).toBe(4);
  });

  it('serves history from a past revision, and refuses a compacted one', () => {
    const hub = new WatchHub({ capacity: 4, revision: 10 });
    expect(hub.watch({ key: 'k', startRevision: 10 })).toEqual({ ok: false, reason: 'compacted', compactRevision: 10 });
    hub.publish([ev('put', 'k', 11)]);
    hub.publish([ev('put', 'x', 12), ev('put', 'k', 12)]);
    hub.publish([ev('delete', 'k', 13)]);
    const w = hub.watch({ key: 'k', startRevision: 12 });
    expect(w.ok && w.events.map((e) => e.revision)).toEqual([12, 13]);
    // Two more events overflow the ring: revision 11 and part of 12 are gone.
    hub.publish([ev('put', 'k', 14), ev('put', 'y', 14)]);
    expect(hub.compactRevision).toBe(12);
    expect(hub.watch({ key: 'k', startRevision: 12 })).toMatchObject({ ok: false, compactRevision: 12 });
    const w13 = hub.watch({ key: 'k', startRevision: 13 });
    expect(w13.ok && w13.events.map((e) => [e.type, e.revision])).toEqual([
      ['delete', 13],
      ['put', 14],
    ]);
    expect(hub.historySize).toBe(4);
  });

  it('reset after a snapshot ends every subscription', () => {
    const hub = new WatchHub();
    const a = hub.watch({ key: 'a' });
    const c = hub.watch({ key: 'c' });
    expect(hub.reset(50)).toEqual([a.ok && a.id, c.ok && c.id]);
    expect(hub.subscriptionCount).toBe(0);
    expect(hub.watch({ key: 'a', startRevision: 50 })).toMatchObject({ ok: false });
    expect(hub.watch({ key: 'a', startRevision: 51 })).toMatchObject({ ok: true, events: [] });
  });

  it('refuses events that go back in revision', () => {
    const hub = new WatchHub();
    hub.publish([ev('put', 'a', 2)]);
    expect(() => hub.publish([ev('put', 'a', 2)])).toThrow(CoordUsageError);
    expect(() => hub.publish([ev('put', 'a', 4), ev('put', 'a', 3)])).toThrow(CoordUsageError);
  });

  it('works with the state machine: events of a lease expiry reach a prefix watcher', () => {
    const d = new Driver();
    const hub = new WatchHub({ revision: d.sm.revision });
    const w = hub.watch({ key: 'hubs/', prefix: true });
    const seen: string[] = [];
    const step = (c: Command): void => {
      const out = d.do(c);
      for (const del of hub.publish(out.events, d.sm.revision)) for (const e of del.events) seen.push(`${e.type} ${e.key} ${td.decode(e.value)}@${e.revision}`);
    };
    step(grant('active-hub', 'hub1'));
    step({ type: 'put', key: 'hubs/active', value: b('hub1'), lease: { name: 'active-hub', epoch: 1 } });
    step({ type: 'lease-renew', name: 'active-hub', holder: 'hub1', epoch: 1 });
    step({ type: 'lease-expire', name: 'active-hub', epoch: 1, renewCount: 1 });
    expect(w.ok).toBe(true);
    expect(seen).toEqual(['put hubs/active hub1@2', 'delete hubs/active @4']);
  });
});
