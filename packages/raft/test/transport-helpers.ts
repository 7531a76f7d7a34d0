import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import type { Logger } from 'pino';
import { TRANSFER_CONTEXT, makeMessage } from '../src/core/messages.js';
import type { Message, NodeId } from '../src/core/types.js';
import { EntryType, MessageType } from '../src/core/types.js';
import type { TransportHandlers } from '../src/transport/transport.js';
import { freePort } from '../../../test/support/ports.js';

/** The one port allocator of the tests (below the ephemeral range). */
export { freePort };

export interface LogRecord {
  readonly level: number;
  readonly msg: string;
  readonly [key: string]: unknown;
}

/** A pino logger whose records land in an array (debug and up). */
export function captureLogger(): { logger: Logger; records: LogRecord[] } {
  const records: LogRecord[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString('utf8').split('\n')) if (line.trim() !== '') records.push(JSON.parse(line) as LogRecord);
      done();
    },
  });
  return { logger: pino({ level: 'debug' }, stream), records };
}

export const WARN = 40;

/** Handlers that record everything they are told. */
export class Recorder implements TransportHandlers {
  readonly messages: Message[] = [];
  readonly unreachable: NodeId[] = [];
  readonly snapshotStatus: [NodeId, boolean][] = [];
  onMessage(message: Message): void {
    this.messages.push(message);
  }
  onUnreachable(peer: NodeId): void {
    this.unreachable.push(peer);
  }
  onSnapshotStatus(peer: NodeId, ok: boolean): void {
    this.snapshotStatus.push([peer, ok]);
  }
  from(peer: NodeId): Message[] {
    return this.messages.filter((m) => m.from === peer);
  }
}

export async function until(cond: () => boolean, what: string, timeoutMs = 4000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export function bytes(n: number, seed = 1): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

/** One valid message of every type, from `from` to `to`. */
export function everyType(from: NodeId, to: NodeId, snapshotBytes = 1000): Message[] {
  const ctx = new Uint8Array([7, 8, 9]);
  return [
    makeMessage(MessageType.App, from, to, 5, {
      logTerm: 4,
      index: 10,
      commit: 9,
      entries: [
        { term: 4, index: 11, type: EntryType.Normal, data: bytes(100, 3) },
        { term: 5, index: 12, type: EntryType.Normal, data: new Uint8Array(0) },
      ],
    }),
    makeMessage(MessageType.AppResp, from, to, 5, { index: 12, reject: true, rejectHint: 7 }),
    makeMessage(MessageType.Vote, from, to, 6, { logTerm: 5, index: 12, context: TRANSFER_CONTEXT }),
    makeMessage(MessageType.VoteResp, from, to, 6, { reject: true }),
    makeMessage(MessageType.PreVote, from, to, 7, { logTerm: 5, index: 12 }),
    makeMessage(MessageType.PreVoteResp, from, to, 7),
    makeMessage(MessageType.Heartbeat, from, to, 5, { commit: 9, context: ctx }),
    makeMessage(MessageType.HeartbeatResp, from, to, 5, { context: ctx }),
    makeMessage(MessageType.Snap, from, to, 5, {
      snapshot: { meta: { index: 20, term: 5, conf: { voters: [from, to], learners: ['learner'] } }, data: bytes(snapshotBytes, 5) },
    }),
    makeMessage(MessageType.TimeoutNow, from, to, 5),
    makeMessage(MessageType.ReadIndex, from, to, 5, { context: ctx }),
    makeMessage(MessageType.ReadIndexResp, from, to, 5, { index: 12, context: ctx }),
  ];
}

export function heartbeat(from: NodeId, to: NodeId, commit: number, context: Uint8Array = new Uint8Array(0)): Message {
  return makeMessage(MessageType.Heartbeat, from, to, 1, { commit, context });
}

export const byType = (ms: readonly Message[]): Message[] => [...ms].sort((x, y) => x.type.localeCompare(y.type));

export interface Pki {
  readonly dir: string;
  /** Files of CA `ca`: ca.crt; of node `n` signed by CA `ca`: <ca>-<n>.crt / .key. */
  caFile(ca: string): string;
  certFile(ca: string, node: string): string;
  keyFile(ca: string, node: string): string;
  dispose(): void;
}

/** Two CAs ("ca1", "ca2") and node certificates (SANs 127.0.0.1 and localhost) made with openssl. */
export function makePki(nodes: Record<string, readonly string[]>): Pki {
  const dir = mkdtempSync(join(tmpdir(), 'hubha-pki-'));
  const ossl = (...args: string[]): void => {
    execFileSync('/usr/bin/openssl', args, { cwd: dir, stdio: 'pipe' });
  };
  writeFileSync(join(dir, 'node.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\nkeyUsage=critical,digitalSignature\n');
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  for (const [ca, members] of Object.entries(nodes)) {
    ossl('req', '-x509', ...ec, '-keyout', `${ca}.key`, '-out', `${ca}.crt`, '-days', '2', '-subj', `/CN=hubha test ${ca}`,
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign');
    for (const n of members) {
      ossl('req', ...ec, '-keyout', `${ca}-${n}.key`, '-out', `${ca}-${n}.csr`, '-subj', `/CN=${n}`);
      ossl('x509', '-req', '-in', `${ca}-${n}.csr`, '-CA', `${ca}.crt`, '-CAkey', `${ca}.key`, '-CAcreateserial',
        '-out', `${ca}-${n}.crt`, '-days', '2', '-extfile', 'node.ext');
    }
  }
  return {
    dir,
    caFile: (ca) => join(dir, `${ca}.crt`),
    certFile: (ca, n) => join(dir, `${ca}-${n}.crt`),
    keyFile: (ca, n) => join(dir, `${ca}-${n}.key`),
    dispose: () => rmSync(dir, { recursive: true, force: true }),
  };
}
