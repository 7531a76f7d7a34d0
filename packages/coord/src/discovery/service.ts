import * as grpc from '@grpc/grpc-js';
import type { hubha } from '@hubha/proto/discovery';
import type { Logger } from 'pino';
import { ACTIVE_HUB_KEY } from '../records/records.js';
import type { CoordNode, WatchSignal } from '../server/coord-node.js';
import type { ActiveHubAnswer } from './answer.js';
import { answerToWire } from './answer.js';
import type { ActiveHubReader } from './reader.js';
import { DiscoveryUnavailableError } from './reader.js';

type Response = hubha.discovery.ActiveHubResponse.$Properties;

function toServiceError(err: unknown): Partial<grpc.ServiceError> {
  if (err instanceof DiscoveryUnavailableError) {
    const metadata = new grpc.Metadata();
    metadata.set('hubha-error-code', err.reason);
    return { code: grpc.status.UNAVAILABLE, details: `${err.reason}: ${err.message}`, metadata };
  }
  return { code: grpc.status.INTERNAL, details: err instanceof Error ? err.message : String(err) };
}

/** Two answers say the same thing (the record's version and presence); the metadata may differ. */
function sameAnswer(a: ActiveHubAnswer, b: ActiveHubAnswer): boolean {
  if (a.present !== b.present) return false;
  return !a.present || !b.present || a.modRevision === b.modRevision;
}

/**
 * The Discovery service on one member. GetActiveHub answers from the reader; WatchActiveHub sends
 * the current answer, then one per change of `hubha/active-hub` as this member applies it.
 *
 * Flow control: a watcher that does not keep up is not buffered without bound — while the stream
 * is full, only the latest answer is kept and sent when it drains (the earlier ones are stale
 * anyway).
 */
export function discoveryHandlers(node: CoordNode, reader: ActiveHubReader, logger: Logger): grpc.UntypedServiceImplementation {
  const GetActiveHub: grpc.handleUnaryCall<hubha.discovery.GetActiveHubRequest, Response> = (call, callback) => {
    reader.read({ serializable: call.request.serializable }).then(
      (answer) => callback(null, answerToWire(answer)),
      (err: unknown) => callback(toServiceError(err)),
    );
  };

  const WatchActiveHub: grpc.handleServerStreamingCall<hubha.discovery.WatchActiveHubRequest, Response> = (call) => {
    let ended = false;
    let subscription: number | null = null;
    let initialSent = false;
    let last: ActiveHubAnswer | null = null;
    let blocked = false;
    let pending: Response | null = null;

    const write = (response: Response): void => {
      if (ended) return;
      if (blocked) {
        pending = response;
        return;
      }
      if (!call.write(response)) blocked = true;
    };
    call.on('drain', () => {
      blocked = false;
      const next = pending;
      pending = null;
      if (next !== null) write(next);
    });

    const emit = (answer: ActiveHubAnswer): void => {
      if (last !== null && sameAnswer(last, answer)) return;
      last = answer;
      write(answerToWire(answer));
    };

    const release = (): void => {
      if (subscription !== null) node.unsubscribe(subscription);
      subscription = null;
    };

    const end = (err?: unknown): void => {
      if (ended) return;
      ended = true;
      release();
      if (err === undefined) call.end();
      // grpc-js turns an 'error' on a server stream into the call's status.
      else call.emit('error', toServiceError(err));
    };

    const onSignal = (signal: WatchSignal): void => {
      if (ended) return;
      if (signal.type === 'events') {
        // Delivered as the change applies: the state machine shows exactly what the events did.
        // Until the first answer is sent it will include them.
        if (initialSent) emit(reader.current(false));
        return;
      }
      if (signal.reason === 'closing') {
        end();
        return;
      }
      // A snapshot replaced the state: watch again from it and send the record as it is now.
      subscription = null;
      subscribe();
      if (initialSent) emit(reader.current(false));
    };

    const subscribe = (): void => {
      // From the next revision: nothing is missed between this and reading the state, which
      // happens later in the same turn or after the read barrier (and then includes anything
      // applied meanwhile).
      const start = node.watchHub.watch({ key: ACTIVE_HUB_KEY });
      if (!start.ok) {
        end(new DiscoveryUnavailableError('compacted', 'the watch history is compacted'));
        return;
      }
      subscription = start.id;
      node.subscribe(start.id, onSignal);
    };

    call.on('cancelled', () => end());
    call.on('close', () => end());
    call.on('error', () => end());

    subscribe();
    if (ended) return;
    reader.read({ serializable: call.request.serializable }).then(
      (answer) => {
        if (ended) return;
        initialSent = true;
        emit(answer);
      },
      (err: unknown) => {
        logger.debug({ err }, 'active hub watch: cannot answer');
        end(err);
      },
    );
  };

  return { GetActiveHub, WatchActiveHub };
}
