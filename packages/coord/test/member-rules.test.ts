import { describe, expect, it } from 'vitest';
import type { AdminRefusal, ClusterFacts, MemberFacts } from '../src/index.js';
import {
  checkAddMember,
  checkPromoteMember,
  checkRemoveMember,
  chooseTransferTarget,
  kindFromContext,
  parseAdvertisedAddress,
  quorumOf,
  validateAddMember,
  validateMemberName,
} from '../src/index.js';

function member(name: string, over: Partial<MemberFacts> = {}): MemberFacts {
  const n = Number(name.replace(/\D/g, '') || '9');
  return { name, kind: name.startsWith('hub') ? 'hub' : 'witness', role: 'voter', reachable: true, peerAddress: `10.0.0.${n}:7001`, clientAddress: `10.0.0.${n}:7101`, matchIndex: 100, ...over };
}

/** hub1 (active, leader), hub2, witness3: the shipped shape. */
function facts(over: Partial<ClusterFacts> = {}, members: readonly MemberFacts[] = [member('hub1'), member('hub2'), member('witness3')]): ClusterFacts {
  return { leader: 'hub1', commitIndex: 100, members, activeHub: 'hub1', ...over };
}

const code = (r: AdminRefusal | { target: string } | null): string | null => (r === null ? null : 'code' in r ? `${r.kind}:${r.code}` : `target:${r.target}`);

describe('advertised addresses', () => {
  it.each([
    ['10.0.0.1:7001', { host: '10.0.0.1', port: 7001 }],
    ['Hub-1.Example.org:1', { host: 'hub-1.example.org', port: 1 }],
    ['[FD00::1]:65535', { host: '[fd00::1]', port: 65535 }],
  ])('accepts %s', (text, parsed) => expect(parseAdvertisedAddress(text)).toEqual(parsed));

  it.each([
    ['', 'is empty'],
    ['10.0.0.1', 'must be "host:port"'],
    [':7001', 'must be "host:port"'],
    ['10.0.0.1:0', 'port 0 is outside 1..65535'],
    ['10.0.0.1:65536', 'port 65536 is outside 1..65535'],
    ['10.0.0.1:x', 'is not a number'],
    ['999.0.0.1:7001', '999.0.0.1 is not an IPv4 address'],
    ['0.0.0.0:7001', 'unspecified address 0.0.0.0'],
    ['[::]:7001', 'unspecified address [::]'],
    ['fd00::1:7001', 'must be in brackets'],
    ['[fd00::zz]:7001', 'not a bracketed IPv6 address'],
    ['host_name:7001', 'is not a host name'],
    ['-host:7001', 'is not a host name'],
    [`${'a'.repeat(260)}:1`, 'longer than 259'],
  ])('refuses %j: %s', (text, why) => {
    const parsed = parseAdvertisedAddress(text);
    expect('error' in parsed && parsed.error).toContain(why);
  });
});

describe('AddMember', () => {
  const ok = { name: 'witness4', peerAddress: '10.0.0.4:7001', clientAddress: '10.0.0.4:7101', role: 'witness' };

  it('validates every argument with a precise code', () => {
    expect(validateAddMember(ok)).toBeNull();
    expect(code(validateAddMember({ ...ok, name: '' }))).toBe('invalid-argument:missing-name');
    for (const name of ['Witness4', 'w_4', '-w4', 'w4-', 'a'.repeat(64)]) expect(code(validateAddMember({ ...ok, name }))).toBe('invalid-argument:invalid-name');
    expect(code(validateAddMember({ ...ok, role: 'db' }))).toBe('invalid-argument:invalid-role');
    expect(code(validateAddMember({ ...ok, role: '' }))).toBe('invalid-argument:invalid-role');
    expect(validateAddMember({ ...ok, peerAddress: '10.0.0.4' })?.message).toBe('peer_address "10.0.0.4": must be "host:port"');
    expect(validateAddMember({ ...ok, clientAddress: '0.0.0.0:7101' })?.code).toBe('invalid-address');
    expect(validateAddMember({ ...ok, clientAddress: '10.0.0.4:7001' })?.message).toContain('are the same');
  });

  it('refuses a name or an address already in use, whatever the spelling of the host', () => {
    expect(checkAddMember(facts(), ok)).toBeNull();
    expect(checkAddMember(facts(), { ...ok, name: 'hub2' })?.message).toBe('hub2 is already a member (voter, hub)');
    const inUse = checkAddMember(facts(), { ...ok, peerAddress: '10.0.0.2:7101' });
    expect(code(inUse)).toBe('failed-precondition:address-in-use');
    expect(inUse?.message).toBe('10.0.0.2:7101 is already the client address of hub2');
    const named = facts({}, [member('hub1', { peerAddress: 'hub1.lan:7001' }), member('hub2')]);
    expect(checkAddMember(named, { ...ok, peerAddress: 'HUB1.lan:7001' })?.code).toBe('address-in-use');
  });
});

describe('PromoteMember', () => {
  const withLearner = (over: Partial<MemberFacts>): ClusterFacts => facts({}, [member('hub1'), member('hub2'), member('witness3'), member('witness4', { role: 'learner', ...over })]);

  it('promotes a reachable learner that has everything committed', () => {
    expect(checkPromoteMember(withLearner({}), 'witness4')).toBeNull();
  });

  it('refuses what is not a learner, one that is behind, one that is down, and a change without a reachable majority', () => {
    expect(code(checkPromoteMember(withLearner({}), 'ghost'))).toBe('failed-precondition:no-such-member');
    expect(code(checkPromoteMember(withLearner({}), 'hub2'))).toBe('failed-precondition:not-a-learner');
    const behind = checkPromoteMember(withLearner({ matchIndex: 12 }), 'witness4');
    expect(code(behind)).toBe('failed-precondition:learner-not-caught-up');
    expect(behind?.message).toBe('witness4 has replicated up to index 12 of 100 committed: promote it once it has caught up');
    // Behind and down: "not caught up" is the reason to give (it is why it cannot vote yet).
    expect(checkPromoteMember(withLearner({ matchIndex: 0, reachable: false }), 'witness4')?.code).toBe('learner-not-caught-up');
    expect(checkPromoteMember(withLearner({ reachable: false }), 'witness4')?.code).toBe('member-unreachable');
    // Two of three voters down: four voters would need three reachable.
    const weak = facts({}, [member('hub1'), member('hub2', { reachable: false }), member('witness3', { reachable: false }), member('witness4', { role: 'learner' })]);
    expect(code(checkPromoteMember(weak, 'witness4'))).toBe('failed-precondition:would-lose-quorum');
  });
});

describe('RemoveMember', () => {
  it('removes a learner, and a voter of a larger cluster', () => {
    expect(checkRemoveMember(facts({}, [member('hub1'), member('hub2'), member('witness3'), member('witness4', { role: 'learner', reachable: false })]), 'witness4', false)).toBeNull();
    expect(checkRemoveMember(facts({}, [member('hub1'), member('hub2'), member('witness3'), member('witness4')]), 'witness3', false)).toBeNull();
  });

  it('never removes the active hub, an unknown member or the last voter; force does not change that', () => {
    for (const force of [false, true]) {
      expect(checkRemoveMember(facts(), 'hub1', force)?.message).toBe('hub1 holds the active-hub lease: switch over to the other hub first');
      expect(code(checkRemoveMember(facts(), 'ghost', force))).toBe('failed-precondition:no-such-member');
      expect(code(checkRemoveMember(facts({ activeHub: null }, [member('hub1')]), 'hub1', force))).toBe('failed-precondition:last-voter');
    }
  });

  it('refuses a removal that leaves the reachable voters without a majority, force or not', () => {
    // witness3 down: removing hub2 leaves hub1 + witness3 (unreachable): 1 of 2.
    const down = facts({}, [member('hub1'), member('hub2'), member('witness3', { reachable: false })]);
    for (const force of [false, true]) {
      const refusal = checkRemoveMember(down, 'hub2', force);
      expect(code(refusal)).toBe('failed-precondition:would-lose-quorum');
      expect(refusal?.message).toContain('leaves 2 voter(s) — hub1, witness3 (unreachable) — of which 1 can be reached, and a quorum needs 2');
    }
    // Removing the member that is down is fine (with force: two voters are left).
    expect(checkRemoveMember(down, 'witness3', true)).toBeNull();
  });

  it('refuses the last witness of three voters, and any voter that leaves fewer than three, unless forced', () => {
    const last = checkRemoveMember(facts(), 'witness3', false);
    expect(code(last)).toBe('failed-precondition:last-witness');
    expect(last?.message).toContain('witness3 is the last witness');
    expect(checkRemoveMember(facts(), 'witness3', true)).toBeNull();
    expect(code(checkRemoveMember(facts(), 'hub2', false))).toBe('failed-precondition:no-spare-voter');
    expect(checkRemoveMember(facts(), 'hub2', true)).toBeNull();
    // With a second witness the first one may go: three voters remain.
    expect(checkRemoveMember(facts({}, [member('hub1'), member('hub2'), member('witness3'), member('witness4')]), 'witness3', false)).toBeNull();
  });
});

describe('TransferLeadership target', () => {
  it('picks the reachable voter replicated furthest, else the named one', () => {
    const f = facts({}, [member('hub1', { matchIndex: 100 }), member('hub2', { matchIndex: 90 }), member('witness3', { matchIndex: 99 }), member('witness4', { role: 'learner', matchIndex: 100 })]);
    expect(code(chooseTransferTarget(f, ''))).toBe('target:witness3');
    expect(code(chooseTransferTarget(facts({}, [member('hub1'), member('hub2', { matchIndex: 90 }), member('witness3', { reachable: false })]), ''))).toBe('target:hub2');
    expect(code(chooseTransferTarget(f, 'hub2'))).toBe('target:hub2');
  });

  it('passes over the active hub while another voter will do (its sidecar would move the leadership off it at once)', () => {
    const led = (activeHub: string | null) => facts({ leader: 'witness3', activeHub }, [member('hub1', { matchIndex: 100 }), member('hub2', { matchIndex: 90 }), member('witness3', { matchIndex: 100 })]);
    expect(code(chooseTransferTarget(led(null), ''))).toBe('target:hub1');
    expect(code(chooseTransferTarget(led('hub1'), ''))).toBe('target:hub2');
    // The only other voter: the active hub it is (its sidecar's business then).
    expect(code(chooseTransferTarget(facts({ leader: 'witness3', activeHub: 'hub1' }, [member('hub1'), member('hub2', { reachable: false }), member('witness3')]), ''))).toBe('target:hub1');
    // Named: as asked.
    expect(code(chooseTransferTarget(led('hub1'), 'hub1'))).toBe('target:hub1');
  });

  it('refuses an unknown member, a learner, an unreachable voter, and no candidate at all', () => {
    const f = facts({}, [member('hub1'), member('hub2', { reachable: false }), member('witness4', { role: 'learner' })]);
    expect(code(chooseTransferTarget(f, 'ghost'))).toBe('failed-precondition:no-such-member');
    expect(code(chooseTransferTarget(f, 'witness4'))).toBe('failed-precondition:not-a-voter');
    expect(code(chooseTransferTarget(f, 'hub2'))).toBe('failed-precondition:member-unreachable');
    expect(code(chooseTransferTarget(f, ''))).toBe('failed-precondition:no-transfer-target');
  });
});

describe('helpers', () => {
  it('names, quorums and the role kept in a change context', () => {
    expect(code(validateMemberName('', 'name'))).toBe('invalid-argument:missing-name');
    expect(code(validateMemberName('a b', 'target'))).toBe('invalid-argument:invalid-name');
    expect(validateMemberName('n1', 'name')).toBeNull();
    expect([1, 2, 3, 4, 5].map(quorumOf)).toEqual([1, 2, 2, 3, 3]);
    expect(kindFromContext('{"peer":"h:1","client":"h:2","role":"hub"}')).toBe('hub');
    expect(kindFromContext('{"peer":"h:1","client":"h:2"}')).toBeNull();
    expect(kindFromContext('{"role":"db"}')).toBeNull();
    expect(kindFromContext('not json')).toBeNull();
    expect(kindFromContext(null)).toBeNull();
  });
});
