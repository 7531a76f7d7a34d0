import { describe, expect, it } from 'vitest';
import type { HubReport } from '@hubha/coord';
import { evaluateEligibility } from '../src/agent/eligibility.js';
import type { EligibilityInput } from '../src/agent/eligibility.js';

const base: EligibilityInput = {
  self: 'hub2',
  synchronous: 'on',
  maximumLagOnFailoverBytes: 1024,
  nofailover: false,
  priority: 100,
  paused: false,
  postgresUp: true,
  inRecovery: true,
  receivedLsn: '0/3000000',
  syncRecord: { primary: 'hub1', standby: 'hub2', epoch: 3, at: '2026-11-26T10:00:00.000Z' },
  primaryReport: null,
  otherStandbys: [],
};

function report(name: string, lsn: string, extra: Partial<HubReport> = {}): HubReport {
  return {
    name,
    at: '2026-11-26T10:00:00.000Z',
    seq: 1,
    role: 'standby',
    epoch: null,
    postgres: { up: true, inRecovery: true, timeline: 1, systemId: '1', lsn, replayLsn: lsn, streaming: true, address: '127.0.0.1:5432' },
    standbys: [],
    tags: { nofailover: false, priority: 100 },
    vipHeld: false,
    lastHookFailure: null,
    ...extra,
  };
}

const codes = (input: EligibilityInput): string[] => evaluateEligibility(input).reasons.map((r) => r.code);

describe('evaluateEligibility', () => {
  it('the recorded synchronous standby is eligible in synchronous mode', () => {
    expect(evaluateEligibility(base)).toEqual({ eligible: true, reasons: [] });
  });

  it('lists every reason at once', () => {
    expect(codes({ ...base, nofailover: true, paused: true, postgresUp: false, syncRecord: { ...base.syncRecord!, standby: null } })).toEqual(['nofailover', 'paused', 'postgres-down', 'not-sync-standby']);
    expect(codes({ ...base, inRecovery: false })).toEqual(['not-in-recovery']);
    expect(codes({ ...base, receivedLsn: null })).toEqual(['not-streaming-data']);
    expect(codes({ ...base, syncRecord: { ...base.syncRecord!, standby: 'hub3' } })).toEqual(['not-sync-standby']);
  });

  it('asynchronous mode: only within the lag bound of the primary report', () => {
    const async_: EligibilityInput = { ...base, synchronous: 'off', syncRecord: null };
    expect(codes(async_)).toEqual(['lag-unknown']);
    expect(codes({ ...async_, primaryReport: report('hub1', '0/3000400', { role: 'primary' }) })).toEqual([]);
    expect(codes({ ...async_, primaryReport: report('hub1', '0/3000401', { role: 'primary' }) })).toEqual(['lag-too-high']);
  });

  it('among several standbys the most advanced wins, then priority, then the name', () => {
    const async_: EligibilityInput = { ...base, self: 'hub2', synchronous: 'off', syncRecord: null, primaryReport: report('hub1', '0/3000000', { role: 'primary' }) };
    expect(codes({ ...async_, otherStandbys: [report('hub3', '0/3000010')] })).toEqual(['better-candidate']);
    expect(codes({ ...async_, otherStandbys: [report('hub3', '0/2FFFFFF')] })).toEqual([]);
    expect(codes({ ...async_, otherStandbys: [report('hub3', '0/3000000', { tags: { nofailover: false, priority: 200 } })] })).toEqual(['better-candidate']);
    expect(codes({ ...async_, otherStandbys: [report('hub3', '0/3000000')] })).toEqual([]); // hub2 < hub3
    expect(codes({ ...async_, otherStandbys: [report('hub3', '0/3000010', { tags: { nofailover: true, priority: 100 } })] })).toEqual([]);
  });
});
