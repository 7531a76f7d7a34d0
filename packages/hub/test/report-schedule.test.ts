import { describe, expect, it } from 'vitest';
import { reportDue, reportShape } from '../src/agent/report-schedule.js';
import type { PgSnapshot } from '../src/postgres/observe.js';

// Only the fields the shape reads; the rest of a snapshot does not matter here.
const down = { up: false, observedAt: new Date(0), running: false, reason: 'connection refused', control: null } as PgSnapshot;
const primary = { up: true, inRecovery: false } as unknown as PgSnapshot;
const standby = (status: string | null) => ({ up: true, inRecovery: true, walReceiver: status === null ? null : { status } }) as unknown as PgSnapshot;

describe('report schedule', () => {
  it('names what readers join across reports: up or down, primary or standby, the WAL receiver, the role', () => {
    const shapes = [reportShape(down, 'standby'), reportShape(standby(null), 'standby'), reportShape(standby('streaming'), 'standby'), reportShape(standby('waiting'), 'standby'), reportShape(primary, 'primary'), reportShape(primary, 'handing-over')];
    expect(new Set(shapes).size).toBe(shapes.length);
    expect(reportShape(standby('streaming'), 'standby')).toBe(reportShape(standby('streaming'), 'standby'));
  });

  it('reports every interval, at once on a change of shape, and never two at a time', () => {
    const last = { inFlight: false, lastAtMs: 1000, lastShape: 'down/standby' };
    expect(reportDue(last, 1500, 'down/standby', 1000)).toBe(false);
    expect(reportDue(last, 2000, 'down/standby', 1000)).toBe(true);
    // PostgreSQL came up 200 ms after the last report: the next step says so.
    expect(reportDue(last, 1200, 'standby/streaming/standby', 1000)).toBe(true);
    expect(reportDue({ ...last, inFlight: true }, 1200, 'standby/streaming/standby', 1000)).toBe(false);
    expect(reportDue({ ...last, inFlight: true }, 5000, 'down/standby', 1000)).toBe(false);
    // Never reported (or the last one was not delivered): due.
    expect(reportDue({ inFlight: false, lastAtMs: 1000, lastShape: null }, 1001, 'down/standby', 1000)).toBe(true);
  });
});
