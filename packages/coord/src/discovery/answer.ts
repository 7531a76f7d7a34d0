import type { hubha } from '@hubha/proto/discovery';
import type { ActiveHub } from '../records/records.js';
import { activeHubSchema } from '../records/records.js';

/**
 * What a member answers to "where is the active hub?", the same over gRPC (ActiveHubResponse),
 * over HTTP (GET /v1/active-hub, this very JSON) and in the CLI's JSON output.
 */
export type ActiveHubAnswer = ActiveHubPresent | ActiveHubAbsent;

interface AnswerMeta {
  /** The store revision the answer reflects. */
  readonly revision: number;
  /** The member that answered. */
  readonly servedBy: string;
  /** Read after a read barrier: it reflects every write committed before the request. */
  readonly linearizable: boolean;
}

export interface ActiveHubPresent extends AnswerMeta, ActiveHub {
  readonly present: true;
  /** The revision of the record's last put. */
  readonly modRevision: number;
}

export interface ActiveHubAbsent extends AnswerMeta {
  readonly present: false;
}

export function answerToWire(answer: ActiveHubAnswer): hubha.discovery.ActiveHubResponse.$Properties {
  const meta = { revision: answer.revision, servedBy: answer.servedBy, linearizable: answer.linearizable };
  if (!answer.present) return { present: false, ...meta };
  return {
    present: true,
    name: answer.name,
    address: answer.address,
    vip: answer.vip ?? '',
    epoch: answer.epoch,
    since: answer.since,
    modRevision: answer.modRevision,
    ...meta,
  };
}

/** A malformed ActiveHubResponse (a member of another version, a damaged answer). */
export class MalformedAnswerError extends Error {
  override readonly name = 'MalformedAnswerError';
}

function u64(value: unknown, field: string): number {
  if (value === undefined || value === null) return 0;
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) return value;
  if (typeof value === 'object') {
    const { low, high } = value as { low?: unknown; high?: unknown };
    if (typeof low === 'number' && typeof high === 'number' && high >>> 0 <= 0x1f_ffff) return (high >>> 0) * 0x1_0000_0000 + (low >>> 0);
  }
  throw new MalformedAnswerError(`${field}: not a non-negative safe integer`);
}

/** Decodes and checks an answer: a present one must carry a valid active-hub record. */
export function answerFromWire(wire: hubha.discovery.ActiveHubResponse.$Properties): ActiveHubAnswer {
  const meta = { revision: u64(wire.revision, 'revision'), servedBy: wire.servedBy ?? '', linearizable: wire.linearizable === true };
  if (wire.present !== true) return { present: false, ...meta };
  const parsed = activeHubSchema.safeParse({
    name: wire.name ?? '',
    address: wire.address ?? '',
    vip: wire.vip === '' || wire.vip === undefined || wire.vip === null ? null : wire.vip,
    epoch: u64(wire.epoch, 'epoch'),
    since: wire.since ?? '',
  });
  if (!parsed.success) throw new MalformedAnswerError(`active hub: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  return { present: true, ...parsed.data, modRevision: u64(wire.modRevision, 'mod_revision'), ...meta };
}

/** The JSON of GET /v1/active-hub and of `hubha active-hub -o json` (fields in a fixed order). */
export function answerToJson(answer: ActiveHubAnswer): Record<string, unknown> {
  if (!answer.present) return { present: false, revision: answer.revision, servedBy: answer.servedBy, linearizable: answer.linearizable };
  return {
    present: true,
    name: answer.name,
    address: answer.address,
    vip: answer.vip,
    epoch: answer.epoch,
    since: answer.since,
    revision: answer.revision,
    modRevision: answer.modRevision,
    servedBy: answer.servedBy,
    linearizable: answer.linearizable,
  };
}
