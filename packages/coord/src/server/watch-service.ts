import type * as grpc from '@grpc/grpc-js';
import type { hubha } from '@hubha/proto/coord';
import { watchEventToWire } from '../state/codec.js';
import type { WatchEvent } from '../state/types.js';
import type { CoordNode, WatchSignal } from './coord-node.js';
import { header, requestU64 } from './rpc-util.js';
import { RpcError, invalidArgument } from './rpc-errors.js';

/** Events per response at most (a revision's events are never split). */
const MAX_EVENTS_PER_RESPONSE = 1000;
/** A stream whose client does not keep up is ended once this many responses are buffered. */
const MAX_BUFFERED_RESPONSES = 1024;
const PROGRESS_NOTIFY_MS = 5_000;

/** Splits events into responses at revision boundaries. */
function batches(events: readonly WatchEvent[]): WatchEvent[][] {
  const out: WatchEvent[][] = [];
  let current: WatchEvent[] = [];
  for (let i = 0; i < events.length; i++) {
    const event = events[i]!;
    current.push(event);
    const next = events[i + 1];
    if (current.length >= MAX_EVENTS_PER_RESPONSE && (next === undefined || next.revision !== event.revision)) {
      out.push(current);
      current = [];
    }
  }
  if (current.length > 0) out.push(current);
  return out;
}

export function watchHandlers(node: CoordNode): grpc.UntypedServiceImplementation {
  const Watch: grpc.handleServerStreamingCall<hubha.coord.WatchRequest, hubha.coord.WatchResponse.$Properties> = (call) => {
    const req = call.request;
    let start;
    try {
      const startRevision = requestU64(req.startRevision, 'start_revision');
      if (!req.prefix && req.key === '') throw invalidArgument('invalid-key', 'key is required unless prefix is set');
      start = node.watchHub.watch({ key: req.key, prefix: req.prefix, startRevision });
    } catch (err) {
      // grpc-js sends no status for destroy(); emitting 'error' ends the stream with the status.
      call.emit('error', err instanceof RpcError ? err.toServiceError() : { code: 13, details: String(err) });
      return;
    }
    if (!start.ok) {
      call.write({ header: header(node, true), compacted: true, compactRevision: start.compactRevision });
      call.end();
      return;
    }
    const id = start.id;
    let ended = false;
    let progress: { cancel(): void } | null = null;
    const end = (response?: hubha.coord.WatchResponse.$Properties): void => {
      if (ended) return;
      ended = true;
      node.unsubscribe(id);
      progress?.cancel();
      if (response !== undefined) call.write(response);
      call.end();
    };
    const send = (events: readonly WatchEvent[]): void => {
      for (const batch of batches(events)) {
        if (call.writableLength > MAX_BUFFERED_RESPONSES) {
          end({ header: header(node, true), canceled: true, cancelReason: 'slow-consumer: the client did not keep up; watch again from the last revision it saw + 1' });
          return;
        }
        call.write({ header: header(node, true), events: batch.map(watchEventToWire) });
      }
    };
    node.subscribe(id, (signal: WatchSignal) => {
      if (signal.type === 'events') send(signal.events);
      else if (signal.reason === 'compacted') end({ header: header(node, true), compacted: true, compactRevision: signal.revision });
      else end({ header: header(node, true), canceled: true, cancelReason: 'member shutting down' });
    });
    progress = req.progressNotify ? node.scheduler.every(PROGRESS_NOTIFY_MS, () => call.write({ header: header(node, true) })) : null;
    call.on('cancelled', () => end());
    call.on('close', () => end());
    // The backlog from the start revision, then live events as they are applied.
    if (start.events.length > 0) send(start.events);
    else call.write({ header: header(node, true) });
  };
  return { Watch };
}
