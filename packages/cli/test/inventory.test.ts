import { describe, expect, it } from 'vitest';
import type { ClusterStatus, MemberStatus } from '@hubha/coord';
import { reasonKey } from '@hubha/coord';
import { activeHubIp, haStatusOf, inventoryFacts, inventoryVariables, unreachableFacts } from '../src/inventory/facts.js';
import { MAX_LIST_BYTES, MAX_VALUE_BYTES, formatModuleProtocol, listElement, listValue, scalarValue } from '../src/inventory/module-protocol.js';

/** What CFEngine's list parser (RlistParseString) makes of `{ "a", "b" }`: null where it fails. */
function cfengineList(text: string): string[] | null {
  const m = /^\s*\{\s*(.*?)\s*\}\s*$/.exec(text);
  if (m === null || m[1] === '') return null;
  const items: string[] = [];
  const re = /\s*"([^"]*)"\s*(,|$)/y;
  let match: RegExpExecArray | null;
  while ((match = re.exec(m[1]!)) !== null) {
    items.push(match[1]!);
    if (match[2] === '') return re.lastIndex === m[1]!.length ? items : null;
  }
  return null;
}

function member(name: string, kind: 'hub' | 'witness'): MemberStatus {
  return {
    name,
    kind,
    active: false,
    raft: { role: 'voter', state: 'follower', commitIndex: 1, appliedIndex: 1, peerAddress: null, clientAddress: null },
    reachable: true,
    unreachableSince: null,
    lastError: null,
    postgres: null,
    report: null,
    tags: null,
    vipHeld: null,
    lastHookFailure: null,
    eligibility: null,
  };
}

function status(over: Partial<ClusterStatus> = {}): ClusterStatus {
  return {
    at: '2024-06-01T10:00:00.000Z',
    servedBy: 'witness',
    revision: 10,
    linearizable: true,
    readError: null,
    state: 'healthy',
    reasons: [],
    activeHub: { name: 'hub1', address: '10.0.0.11:5432', vip: null, epoch: 3, since: '2024-06-01T09:00:00.000Z' },
    lease: null,
    synchronous: { mode: 'on', inferred: false, standby: 'hub2', record: null },
    paused: null,
    raft: { leader: 'witness', term: 2, quorum: true, voters: 3, reachableVoters: 3 },
    members: [member('hub1', 'hub'), member('hub2', 'hub'), member('witness', 'witness')],
    lastPromotion: null,
    thresholds: { reportMaxAgeMs: 5000, lagMaxBytes: 1, lagMaxSeconds: 1, maximumLagOnFailoverBytes: 1, synchronous: null },
    problems: [],
    ...over,
  } as ClusterStatus;
}

describe('module protocol values', () => {
  it('keeps a value on one line: control characters and line breaks become spaces', () => {
    expect(scalarValue('a\nb\r\nc\td\u0000e\u2028f')).toBe('a b  c d e f');
    expect(scalarValue('  padded  ')).toBe('padded');
    expect(scalarValue('hub1 = 10.0.0.1, "ok"')).toBe('hub1 = 10.0.0.1, "ok"');
  });

  it('cuts an overlong value to the byte limit without splitting a character', () => {
    const cut = scalarValue('é'.repeat(2000));
    expect(Buffer.byteLength(cut)).toBeLessThanOrEqual(MAX_VALUE_BYTES);
    expect(cut.endsWith('é...')).toBe(true);
    expect(scalarValue('x'.repeat(MAX_VALUE_BYTES))).toBe('x'.repeat(MAX_VALUE_BYTES));
  });

  it('a list element cannot close its quotes early', () => {
    expect(listElement('say "hi"\nthere')).toBe("say 'hi' there");
    const text = listValue(['a "quoted" one', 'with, comma', 'with } brace', 'plain'])!;
    expect(text).toBe(`{ "a 'quoted' one", "with, comma", "with } brace", "plain" }`);
    expect(cfengineList(text)).toEqual(["a 'quoted' one", 'with, comma', 'with } brace', 'plain']);
  });

  it('an empty list is left out (CFEngine cannot parse { }); a list too long keeps what fits and says how many more', () => {
    expect(listValue([])).toBeNull();
    expect(cfengineList('{ }')).toBeNull();
    const many = Array.from({ length: 40 }, (_, i) => `reason-${i}: ${'x'.repeat(200)}`);
    const text = listValue(many)!;
    expect(Buffer.byteLength(text)).toBeLessThanOrEqual(MAX_LIST_BYTES);
    const parsed = cfengineList(text)!;
    expect(parsed.length).toBeGreaterThan(5);
    expect(parsed.length).toBeLessThan(40);
    expect(parsed.at(-1)).toBe(`... and ${40 - (parsed.length - 1)} more`);
  });
});

describe('formatModuleProtocol', () => {
  it('writes the context, then each variable after its tags', () => {
    const out = formatModuleProtocol('hubha', [
      { name: 'hubha_node', attribute: null, value: 'hub1' },
      { name: 'hubha_ha_state', attribute: 'HA state', value: 'degraded' },
      { name: 'hubha_degraded_reasons', attribute: 'HA degraded reasons', value: ['paused: paused by ops'] },
      { name: 'hubha_empty', attribute: 'HA empty', value: [] },
      { name: 'hubha_active_hub', attribute: 'HA active, hub', value: '' },
    ]);
    expect(out).toBe(
      [
        '^context=hubha',
        '^meta=source=hubha',
        '=hubha_node=hub1',
        '^meta=inventory,attribute_name=HA state',
        '=hubha_ha_state=degraded',
        '^meta=inventory,attribute_name=HA degraded reasons',
        '@hubha_degraded_reasons= { "paused: paused by ops" }',
        '^meta=inventory,attribute_name=HA active  hub',
        '=hubha_active_hub=',
        '',
      ].join('\n'),
    );
  });

  it('refuses names the protocol would reject (a bug, not input)', () => {
    expect(() => formatModuleProtocol('hub-ha', [])).toThrow(RangeError);
    expect(() => formatModuleProtocol('hubha', [{ name: 'bad name', attribute: null, value: 'x' }])).toThrow(RangeError);
  });

  it('no value, however hostile, adds a line', () => {
    const hostile = 'x\n=evil=1\n+class\r^context=other';
    const out = formatModuleProtocol('hubha', [
      { name: 'a', attribute: 'A\nB', value: hostile },
      { name: 'b', attribute: 'B', value: [hostile, `"}${hostile}`] },
    ]);
    const lines = out.trimEnd().split('\n');
    expect(lines).toHaveLength(5);
    expect(lines.filter((l) => l.startsWith('=') || l.startsWith('@')).map((l) => l.slice(0, 3))).toEqual(['=a=', '@b=']);
    expect(cfengineList(lines[4]!.slice('@b= '.length))).toHaveLength(2);
  });
});

describe('inventory facts', () => {
  it('the active hub IP: the VIP when there is one, else the PostgreSQL host', () => {
    expect(activeHubIp({ name: 'hub1', address: '10.0.0.11:5432', vip: '10.0.0.100/24', epoch: 1, since: 'x' })).toBe('10.0.0.100');
    expect(activeHubIp({ name: 'hub1', address: '10.0.0.11:5432', vip: null, epoch: 1, since: 'x' })).toBe('10.0.0.11');
    expect(activeHubIp({ name: 'hub1', address: '[fd00::11]:5432', vip: null, epoch: 1, since: 'x' })).toBe('fd00::11');
  });

  it("this host's HA status", () => {
    const s = status();
    expect(['hub1', 'hub2', 'witness', 'ghost'].map((n) => haStatusOf(s, n))).toEqual(['active', 'standby', 'witness', 'unknown']);
  });

  it('a degraded, paused cluster as variables', () => {
    const s = status({
      state: 'degraded',
      paused: { paused: true, by: 'ops', at: 'x', reason: 'upgrade' },
      reasons: [
        { code: 'paused', member: null, message: 'paused by ops (upgrade)', since: 'x', key: reasonKey('paused', null) },
        { code: 'standby-not-streaming', member: 'hub2', message: 'hub2 is not streaming from hub1', since: 'x', key: reasonKey('standby-not-streaming', 'hub2') },
      ],
    });
    const facts = inventoryFacts(s, 'hub2');
    expect(facts).toEqual({ node: 'hub2', activeHub: 'hub1', activeHubIp: '10.0.0.11', haStatus: 'standby', haState: 'degraded', reasons: ['paused: paused by ops (upgrade)', 'standby-not-streaming: hub2 is not streaming from hub1'], paused: 'true' });
    expect(formatModuleProtocol('hubha', inventoryVariables(facts))).toContain('@hubha_degraded_reasons= { "paused: paused by ops (upgrade)", "standby-not-streaming: hub2 is not streaming from hub1" }\n');
  });

  it('no active hub, and no member answering', () => {
    expect(inventoryFacts(status({ activeHub: null, state: 'failed' }), 'hub1')).toMatchObject({ activeHub: '', activeHubIp: '', haStatus: 'standby', haState: 'failed', paused: 'false' });
    expect(unreachableFacts('hub1', 'no member answered')).toEqual({ node: 'hub1', activeHub: '', activeHubIp: '', haStatus: 'unknown', haState: 'unknown', reasons: ['unreachable: no member answered'], paused: 'unknown' });
  });
});
