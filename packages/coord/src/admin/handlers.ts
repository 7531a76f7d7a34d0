import * as grpc from '@grpc/grpc-js';
import type { hubha } from '@hubha/proto/admin';
import type { Logger } from 'pino';
import { CoordClientError } from '../client/errors.js';
import { METADATA_ERROR_CODE } from '../rpc/definitions.js';
import type { AdminEvent, AdminService } from './admin-service.js';
import { AdminRefusal, AdminUnavailableError } from './admin-service.js';
import type { RecordsSummary } from './events.js';
import { diffSummaries, haStateEvent, summarize, watchingEvent } from './events.js';
import { MalformedAdminAnswerError, historyToWire, memberStatusToWire, pausedToWire, rejoinToWire, statusToWire, thresholdsFromWire, u64 } from './wire.js';

type Event = hubha.admin.Event.$Properties;

/** Events a watcher may have waiting before its stream is ended (RESOURCE_EXHAUSTED). */
const MAX_PENDING_EVENTS = 1000;
/** The stream re-reads the records at least this often (a snapshot restore publishes no event). */
const WATCH_RESYNC_MS = 1000;

function serviceError(code: grpc.status, errorCode: string, details: string): Partial<grpc.ServiceError> {
  const metadata = new grpc.Metadata();
  metadata.set(METADATA_ERROR_CODE, errorCode);
  return { code, details, metadata };
}

export function adminErrorToGrpc(err: unknown): Partial<grpc.ServiceError> {
  if (err instanceof AdminUnavailableError) return serviceError(grpc.status.UNAVAILABLE, err.reason, `${err.reason}: ${err.message}`);
  if (err instanceof AdminRefusal) return serviceError(err.kind === 'invalid-argument' ? grpc.status.INVALID_ARGUMENT : grpc.status.FAILED_PRECONDITION, err.code, `${err.code}: ${err.message}`);
  if (err instanceof MalformedAdminAnswerError) return serviceError(grpc.status.INVALID_ARGUMENT, 'invalid-argument', err.message);
  if (err instanceof CoordClientError) {
    const unavailable = err.code === 'unavailable' || err.code === 'timeout' || err.code === 'closed';
    return serviceError(unavailable ? grpc.status.UNAVAILABLE : grpc.status.FAILED_PRECONDITION, err.code, `the store refused or did not answer: ${err.code}: ${err.message}`);
  }
  return { code: grpc.status.INTERNAL, details: err instanceof Error ? err.message : String(err) };
}

function unary<Req, Res>(handler: (request: Req) => Promise<Res>): grpc.handleUnaryCall<Req, Res> {
  return (call, callback) => {
    handler(call.request).then(
      (response) => callback(null, response),
      (err: unknown) => callback(adminErrorToGrpc(err)),
    );
  };
}

function eventToWire(e: AdminEvent): Event {
  return { type: e.type, member: e.member ?? '', message: e.message, at: e.at, revision: e.revision, recordJson: e.recordJson ?? '' };
}


/** The Admin service's handlers on one member (proto/admin.proto). */
export function adminHandlers(admin: AdminService, logger: Logger): grpc.UntypedServiceImplementation {
  const log = logger.child({ component: 'admin' });

  const WatchEvents: grpc.handleServerStreamingCall<hubha.admin.WatchEventsRequest, Event> = (call) => {
    let ended = false;
    let blocked = false;
    const queue: Event[] = [];
    let summary: RecordsSummary | null = null;
    let lastState: 'healthy' | 'degraded' | 'failed' | null = null;
    let diffScheduled = false;
    const cleanups: (() => void)[] = [];

    const end = (err?: Partial<grpc.ServiceError>): void => {
      if (ended) return;
      ended = true;
      for (const cleanup of cleanups) cleanup();
      if (err === undefined) call.end();
      else call.emit('error', err);
    };
    const flush = (): void => {
      while (!ended && !blocked && queue.length > 0) {
        if (!call.write(queue.shift()!)) blocked = true;
      }
    };
    const send = (events: readonly AdminEvent[]): void => {
      if (ended) return;
      for (const e of events) queue.push(eventToWire(e));
      if (queue.length > MAX_PENDING_EVENTS) {
        end(serviceError(grpc.status.RESOURCE_EXHAUSTED, 'slow-watcher', `more than ${MAX_PENDING_EVENTS} events waiting: watch again`));
        return;
      }
      flush();
    };
    call.on('drain', () => {
      blocked = false;
      flush();
    });

    const resync = (): void => {
      diffScheduled = false;
      if (ended || summary === null) return;
      let next: RecordsSummary;
      try {
        next = summarize(admin.readLocal());
      } catch (err: unknown) {
        end(adminErrorToGrpc(err));
        return;
      }
      const events = diffSummaries(summary, next, new Date().toISOString());
      summary = next;
      send(events);
    };
    const schedule = (): void => {
      if (diffScheduled) return;
      diffScheduled = true;
      setImmediate(resync);
    };

    call.on('cancelled', () => end());
    call.on('close', () => end());
    call.on('error', () => end());

    admin.readRecords(true).then(
      (read) => {
        if (ended) return;
        summary = summarize(read);
        send([watchingEvent(admin.id, summary, new Date().toISOString())]);
        cleanups.push(
          admin.onApplied((outcome) => {
            if (outcome.events.some((e) => e.key.startsWith('hubha/')) || outcome.leaseChanges.some((c) => c.name === 'active-hub' && (c.lease === null || c.lease.renewCount === 0))) schedule();
          }),
        );
        cleanups.push(
          admin.onStatus((status) => {
            const event = haStateEvent(lastState, status);
            lastState = status.state;
            if (event !== null) send([event]);
          }),
        );
        cleanups.push(admin.onClose(() => end()));
        const timer = setInterval(schedule, WATCH_RESYNC_MS);
        timer.unref();
        cleanups.push(() => clearInterval(timer));
      },
      (err: unknown) => {
        log.debug({ err: err instanceof Error ? err.message : String(err) }, 'admin watch: cannot start');
        end(adminErrorToGrpc(err));
      },
    );
  };

  const handlers: grpc.UntypedServiceImplementation = {
    GetStatus: unary<hubha.admin.GetStatusRequest, hubha.admin.GetStatusResponse.$Properties>(async (req) => {
      const thresholds = thresholdsFromWire(req.thresholds, admin.thresholds);
      const status = await admin.status({ serializable: req.serializable, thresholds });
      return { status: statusToWire(status) };
    }),
    ListMembers: unary<hubha.admin.ListMembersRequest, hubha.admin.ListMembersResponse.$Properties>(async (req) => {
      const status = await admin.status({ serializable: req.serializable });
      return {
        members: status.members.map(memberStatusToWire),
        raft: { leader: status.raft.leader ?? '', term: status.raft.term, quorum: status.raft.quorum, voters: status.raft.voters, reachableVoters: status.raft.reachableVoters },
        servedBy: status.servedBy,
        revision: status.revision,
        linearizable: status.linearizable,
      };
    }),
    GetHistory: unary<hubha.admin.GetHistoryRequest, hubha.admin.GetHistoryResponse.$Properties>(async (req) => {
      const { entries, rejoins, read } = await admin.history({ serializable: req.serializable, limit: u64(req.limit, 'limit') });
      return {
        entries: entries.map(historyToWire),
        rejoins: rejoins.map(rejoinToWire),
        servedBy: admin.id,
        revision: read.revision,
        linearizable: read.linearizable,
        problems: read.records.problems.filter((p) => p.startsWith('hubha/history/') || p.startsWith('hubha/rejoin/')),
      };
    }),
    Pause: unary<hubha.admin.PauseRequest, hubha.admin.PauseResponse.$Properties>(async (req) => {
      const result = await admin.pause(req.reason ?? '', req.by ?? '');
      return { paused: pausedToWire(result.paused), changed: result.changed, revision: result.revision, servedBy: admin.id };
    }),
    Resume: unary<hubha.admin.ResumeRequest, hubha.admin.ResumeResponse.$Properties>(async (req) => {
      const result = await admin.resume(req.reason ?? '', req.by ?? '');
      return { paused: pausedToWire(result.paused), changed: result.changed, revision: result.revision, servedBy: admin.id };
    }),
    WatchEvents,
    Switchover: unary<hubha.admin.SwitchoverRequest, hubha.admin.SwitchoverResponse.$Properties>(async (req) => {
      const r = await admin.handovers.switchover({ target: req.target ?? '', at: req.at ?? '', dryRun: req.dryRun === true, reason: req.reason ?? '', by: req.by ?? '' });
      return { from: r.from, to: r.to, epoch: r.epoch, finalLsn: r.finalLsn ?? '', durationS: r.durationS, steps: [...r.steps], dryRun: r.dryRun, scheduledAt: r.scheduledAt ?? '' };
    }),
    Failover: unary<hubha.admin.FailoverRequest, hubha.admin.FailoverResponse.$Properties>(async (req) => {
      const r = await admin.handovers.failover({ target: req.target ?? '', force: req.force === true, dryRun: req.dryRun === true, reason: req.reason ?? '', by: req.by ?? '' });
      return { from: r.from ?? '', to: r.to, epoch: r.epoch, ...(r.dataLossBytes === null ? {} : { dataLossBytes: r.dataLossBytes }), warnings: [...r.warnings], steps: [...r.steps], dryRun: r.dryRun };
    }),
    Reinit: unary<hubha.admin.ReinitRequest, hubha.admin.ReinitResponse.$Properties>(async (req) => {
      const r = await admin.handovers.reinit(req.member ?? '', req.force === true, req.by ?? '');
      return { member: r.member, started: r.started, message: r.message };
    }),
  };
  return handlers;
}
