/**
 * A watch that survives its stream: when the stream drops, the member fails or the server ends
 * the watch, it is opened again (on the next endpoint, after a backoff) from the last revision
 * seen + 1, so the consumer sees every matching event once, in revision order — unless the
 * events it missed are no longer in the server's history, which ends the watch with a
 * CoordClientError 'compacted' (re-read, then watch again from the read's revision + 1).
 */
import type { Logger } from 'pino';
import type { hubha } from '@hubha/proto/coord';
import { clusterService, watchService } from '../rpc/definitions.js';
import type { WatchEvent } from '../state/types.js';
import { CoordClientError, closedError, invalidArgument } from './errors.js';
import type { Router } from './router.js';
import { classifyFailure, sleep } from './router.js';
import type { RpcFailure, RpcTransport, StreamHandle } from './transport.js';
import { checkString, checkU64, decodeWith, headerFromWire, u64, watchEventFromWire } from './wire.js';

export interface WatchOptions {
  /** A key, or with `prefix` every key starting with it ('' with prefix: every key). */
  readonly key: string;
  readonly prefix?: boolean;
  /**
   * Events from this revision on. Absent: from the revision after the one the first member
   * asked has applied (about "now"); from then on no event is missed.
   */
  readonly startRevision?: number;
  /**
   * Ask the server for empty responses carrying its revision while idle (default true): they
   * move the resume point forward, so a watch on a quiet key does not resume from a revision that
   * has left the server's history in the meantime.
   */
  readonly progressNotify?: boolean;
  /** Events buffered ahead of the consumer before the stream is paused. Default 10000. */
  readonly bufferSize?: number;
}

export interface WatchHost {
  readonly router: Router;
  readonly transport: RpcTransport;
  readonly requestTimeoutMs: number;
  readonly logger: Logger;
  detach(watch: CoordWatch): void;
}

type Waiter = { resolve: (r: IteratorResult<WatchEvent>) => void; reject: (err: unknown) => void };

export class CoordWatch implements AsyncIterable<WatchEvent> {
  readonly key: string;
  readonly prefix: boolean;
  private next: number;
  private readonly progressNotify: boolean;
  private readonly bufferSize: number;
  private readonly buffer: WatchEvent[] = [];
  private waiter: Waiter | null = null;
  /** Set when the watch ends: null while running; 'done' when cancelled, else the error. */
  private ending: { error: unknown } | 'done' | null = null;
  private stream: StreamHandle | null = null;
  /** Settles the stream being awaited (when the watch ends meanwhile). */
  private interruptStream: (() => void) | null = null;
  private paused = false;
  private iterated = false;
  private readonly abort = new AbortController();
  private readonly log: Logger;

  constructor(
    private readonly host: WatchHost,
    options: WatchOptions,
  ) {
    this.key = checkString(options.key, 'key');
    this.prefix = options.prefix === true;
    if (!this.prefix && this.key === '') throw invalidArgument('watch: key is required unless prefix is set');
    this.next = options.startRevision === undefined ? 0 : checkU64(options.startRevision, 'startRevision');
    this.progressNotify = options.progressNotify ?? true;
    this.bufferSize = options.bufferSize ?? 10_000;
    if (!Number.isInteger(this.bufferSize) || this.bufferSize < 1) throw invalidArgument('watch: bufferSize must be a positive integer');
    this.log = host.logger.child({ watch: this.key, prefix: this.prefix });
    void this.run();
  }

  /** The revision the watch resumes from: the last event's revision + 1 (0 before it started). */
  get nextRevision(): number {
    return this.next;
  }

  /** Ends the watch: the iteration finishes (done) after at most the event being delivered. */
  cancel(): void {
    this.end('done');
  }

  [Symbol.asyncIterator](): AsyncIterator<WatchEvent> {
    if (this.iterated) throw invalidArgument('a watch can be iterated only once');
    this.iterated = true;
    return {
      next: () => this.pull(),
      return: () => {
        this.cancel();
        return Promise.resolve({ done: true, value: undefined });
      },
    };
  }

  /** Ends the watch with 'closed' (the client is closing). */
  close(): void {
    this.end({ error: closedError() });
  }

  // -------------------------------------------------------------------- consumer side

  private pull(): Promise<IteratorResult<WatchEvent>> {
    const event = this.buffer.shift();
    if (event !== undefined) {
      if (this.paused && this.buffer.length <= this.bufferSize / 2) {
        this.paused = false;
        this.stream?.resume();
      }
      return Promise.resolve({ done: false, value: event });
    }
    if (this.ending === 'done') return Promise.resolve({ done: true, value: undefined });
    if (this.ending !== null) return Promise.reject(this.ending.error);
    if (this.waiter !== null) return Promise.reject(invalidArgument('watch: next() called again before the previous one settled'));
    return new Promise((resolve, reject) => {
      this.waiter = { resolve, reject };
    });
  }

  private deliver(event: WatchEvent): void {
    const waiter = this.waiter;
    if (waiter !== null && this.buffer.length === 0) {
      this.waiter = null;
      waiter.resolve({ done: false, value: event });
      return;
    }
    this.buffer.push(event);
    if (!this.paused && this.buffer.length >= this.bufferSize) {
      this.paused = true;
      this.stream?.pause();
    }
  }

  private end(how: { error: unknown } | 'done'): void {
    if (this.ending !== null) return;
    this.ending = how;
    this.abort.abort();
    this.stream?.cancel();
    this.stream = null;
    this.interruptStream?.();
    this.host.detach(this);
    if (how === 'done') this.buffer.length = 0;
    const waiter = this.waiter;
    this.waiter = null;
    if (waiter !== null) {
      if (how === 'done') waiter.resolve({ done: true, value: undefined });
      else waiter.reject(how.error);
    }
  }

  // -------------------------------------------------------------------- stream side

  private async run(): Promise<void> {
    const router = this.host.router;
    let failures = 0;
    let endpoint: string | null = null;
    try {
      while (this.ending === null) {
        if (router.signal.aborted) throw closedError();
        endpoint = endpoint === null ? router.pick('any') : endpoint;
        if (this.next === 0) {
          // "From now": the revision the member has applied, so that a resumed stream knows
          // where it left off even before its first event.
          const { response, endpoint: answered } = await router.call('any', clusterService.Status, {}, performance.now() + this.host.requestTimeoutMs);
          this.next = decodeWith('watch start', () => headerFromWire(response.header).revision) + 1;
          endpoint = answered;
        }
        const outcome = await this.stream1(endpoint);
        if (this.ending !== null) return;
        if (outcome.progressed) failures = 0;
        if (outcome.failure !== null) {
          const kind = classifyFailure(outcome.failure);
          if (kind.kind === 'fatal') throw kind.error;
          router.noteFailure(endpoint);
          this.log.debug({ endpoint, details: outcome.failure.message }, 'watch: stream failed; resuming');
        } else {
          this.log.debug({ endpoint, reason: outcome.reason }, 'watch: stream ended; resuming');
        }
        endpoint = router.next(endpoint);
        failures++;
        await sleep(router.backoffMs(failures), this.abort.signal);
      }
    } catch (err: unknown) {
      if (this.ending !== null) return;
      if (router.signal.aborted) this.end({ error: closedError() });
      else this.end({ error: err });
    }
  }

  /** One stream, until it ends. */
  private stream1(endpoint: string): Promise<{ failure: RpcFailure | null; reason: string; progressed: boolean }> {
    return new Promise((resolve, reject) => {
      let progressed = false;
      let settled = false;
      const settle = (r: { failure: RpcFailure | null; reason: string }): void => {
        if (settled) return;
        settled = true;
        this.interruptStream = null;
        this.stream?.cancel();
        this.stream = null;
        this.paused = false;
        resolve({ ...r, progressed });
      };
      const fail = (err: unknown): void => {
        if (settled) return;
        settled = true;
        this.interruptStream = null;
        this.stream?.cancel();
        this.stream = null;
        reject(err);
      };
      this.interruptStream = () => settle({ failure: null, reason: 'cancelled' });
      const request: hubha.coord.WatchRequest.$Properties = { key: this.key, prefix: this.prefix, startRevision: this.next, progressNotify: this.progressNotify };
      this.stream = this.host.transport.serverStream(endpoint, watchService.Watch, request, {
        onMessage: (message) => {
          if (settled) return;
          progressed = true;
          try {
            if (message.compacted === true) {
              const compactRevision = u64(message.compactRevision, 'compactRevision');
              fail(new CoordClientError('compacted', `watch ${JSON.stringify(this.key)}: revision ${this.next} is no longer in the history of ${endpoint} (compacted through ${compactRevision}); re-read, then watch from a later revision`, { endpoint, compactRevision }));
              return;
            }
            const events = (message.events ?? []).map((e, i) => watchEventFromWire(e, `events[${i}]`));
            // A revision's events come in one response: skip only whole revisions already seen.
            const from = this.next;
            for (const event of events) {
              if (event.revision < from) continue;
              this.deliver(event);
              if (this.ending !== null) return;
            }
            const last = events.at(-1);
            if (last !== undefined) this.next = Math.max(this.next, last.revision + 1);
            if (events.length === 0 && message.header !== null && message.header !== undefined) {
              // An empty response: every matching event up to its revision has been sent.
              this.next = Math.max(this.next, headerFromWire(message.header).revision + 1);
            }
            if (message.canceled === true) settle({ failure: null, reason: `canceled by the server: ${message.cancelReason ?? ''}` });
          } catch (err: unknown) {
            fail(err);
          }
        },
        onEnd: (failure) => settle({ failure, reason: 'the stream ended' }),
      });
      if (this.buffer.length >= this.bufferSize) {
        this.paused = true;
        this.stream.pause();
      }
      // The consumer may have cancelled meanwhile.
      if (this.ending !== null) settle({ failure: null, reason: 'cancelled' });
    });
  }
}
