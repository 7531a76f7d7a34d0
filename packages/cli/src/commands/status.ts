import type { Command } from 'commander';
import { AdminCallError, AdminClient, AdminUnreachableError, formatBytes, formatDuration, statusToJson } from '@hubha/coord';
import type { ClusterStatus, MemberStatus, StatusThresholds } from '@hubha/coord';
import { UsageError, resolveEndpoints } from './endpoints.js';

/** `hubha status --check`: exit codes scripts and monitoring can use. */
export const STATUS_HEALTHY = 0;
export const STATUS_DEGRADED = 1;
export const STATUS_FAILED = 2;

export interface CommandOutput {
  write(text: string): void;
}

export interface StatusCommandOptions {
  readonly endpoints?: string | undefined;
  /** 'table' (default) or 'json'. */
  readonly output?: string | undefined;
  /** Exit 0 healthy, 1 degraded, 2 failed or unreachable. */
  readonly check?: boolean | undefined;
  readonly serializable?: boolean | undefined;
  readonly timeoutMs?: number | undefined;
  readonly thresholds?: Partial<StatusThresholds>;
}

/** A positive number from an option, or a usage error naming the option. */
export function positiveNumber(text: string | undefined, option: string, integer = true): number | undefined {
  if (text === undefined) return undefined;
  const value = Number(text);
  if (!Number.isFinite(value) || value < 0 || (integer && !Number.isSafeInteger(value))) throw new UsageError(`${option} must be a non-negative ${integer ? 'integer' : 'number'}, got ${JSON.stringify(text)}`);
  return value;
}

function table(header: readonly string[], rows: readonly (readonly string[])[], align: readonly ('l' | 'r')[] = []): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = `+${widths.map((w) => '-'.repeat(w + 2)).join('+')}+\n`;
  const row = (cells: readonly string[]): string => `|${cells.map((c, i) => ` ${align[i] === 'r' ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)} `).join('|')}|\n`;
  return line + row(header) + line + rows.map(row).join('') + line;
}

function roleOf(m: MemberStatus, status: ClusterStatus): string {
  if (m.kind === 'witness') return 'Witness';
  const pg = m.postgres;
  if (pg === null) return 'Hub (no report)';
  if (m.active) return pg.role === 'primary' ? 'Primary (active)' : `${pg.role} (active)`;
  if (pg.role === 'primary') return 'Primary (NOT active)';
  if (pg.role === 'standby') return status.synchronous.standby === m.name || pg.syncState === 'sync' ? 'Sync standby' : 'Standby';
  return pg.role === 'stopped' ? 'Stopped' : 'Unknown';
}

function stateOf(m: MemberStatus, status: ClusterStatus): string {
  const pg = m.postgres;
  if (pg === null) return '';
  const stale = m.report?.stale === true ? ' (stale)' : '';
  if (!pg.up) return `stopped${stale}`;
  if (pg.role === 'primary' || pg.inRecovery === false) return `running${stale}`;
  // A standby: the primary's pg_stat_replication has the last word.
  if (pg.replicationState !== null) return pg.replicationState;
  if (status.activeHub !== null && !m.active) return 'not streaming';
  return `${pg.streaming ? 'streaming' : 'not streaming'}${stale}`;
}

function lagOf(m: MemberStatus): string {
  const pg = m.postgres;
  if (pg === null || m.active || pg.lagBytes === null) return '';
  return `${formatBytes(pg.lagBytes)}${pg.lagSeconds !== null && pg.lagSeconds >= 0.1 ? `, ${pg.lagSeconds.toFixed(1)} s` : ''}`;
}

function raftOf(m: MemberStatus, now: number): string {
  if (m.raft.role === null) return 'not a member';
  const learner = m.raft.role === 'learner' ? ' (learner)' : '';
  if (!m.reachable) return `unreachable ${m.unreachableSince === null ? '' : formatDuration(now - Date.parse(m.unreachableSince))}`.trimEnd() + learner;
  return `${m.raft.state}${learner}`;
}

function reportOf(m: MemberStatus): string {
  if (m.report === null) return m.kind === 'hub' ? 'never' : '';
  const age = m.report.ageMs < 0 ? '?' : m.report.ageMs < 10_000 ? `${(m.report.ageMs / 1000).toFixed(1)} s` : formatDuration(m.report.ageMs);
  return m.report.stale ? `${age} STALE` : age;
}

/** The `patronictl list`-like table, the HA state with every reason, and each standby's eligibility. */
export function renderStatus(status: ClusterStatus): string {
  const now = Date.parse(status.at);
  const rows = status.members.map((m) => [
    m.name,
    m.kind,
    m.postgres?.address ?? m.raft.clientAddress ?? '',
    roleOf(m, status),
    stateOf(m, status),
    m.postgres?.timeline === null || m.postgres?.timeline === undefined ? '' : String(m.postgres.timeline),
    lagOf(m),
    raftOf(m, now),
    reportOf(m),
  ]);
  let out = `Cluster status from ${status.servedBy} at ${status.at} (revision ${status.revision}${status.linearizable ? '' : `, NOT linearizable${status.readError === null ? '' : `: ${status.readError}`}`})\n`;
  out += table(['Member', 'Kind', 'Host', 'Role', 'State', 'TL', 'Lag', 'Raft', 'Last report'], rows, ['l', 'l', 'l', 'l', 'l', 'r', 'r', 'l', 'r']);
  const active = status.activeHub;
  const facts = [
    active === null ? 'no active hub' : `active hub ${active.name} (epoch ${active.epoch}, since ${active.since}${active.vip === null ? '' : `, VIP ${active.vip}`})`,
    status.synchronous.mode === 'off' ? 'asynchronous replication' : `synchronous (${status.synchronous.mode}${status.synchronous.inferred ? ', inferred' : ''}): ${status.synchronous.standby === null ? 'no synchronous standby' : `standby ${status.synchronous.standby}`}`,
    status.raft.leader === null ? `no Raft leader (term ${status.raft.term})` : `Raft leader ${status.raft.leader} (term ${status.raft.term}, ${status.raft.reachableVoters}/${status.raft.voters} voters reachable)`,
  ];
  out += `HA state: ${status.state.toUpperCase()} - ${facts.join('; ')}\n`;
  const h = status.handover ?? null;
  if (h !== null) {
    const what = h.kind === 'switchover' ? `SWITCHOVER from ${h.from ?? '?'} to ${h.to}` : `MANUAL FAILOVER to ${h.to}${h.force ? ' (forced)' : ''}`;
    out += `${what} ${h.scheduled ? `scheduled at ${h.at}` : `under way since ${h.at}`}, asked by ${h.by}${h.reason === '' ? '' : ` (${h.reason})`}\n`;
  }
  if (status.paused !== null) out += `PAUSED by ${status.paused.by} since ${status.paused.at}${status.paused.reason === '' ? '' : ` (${status.paused.reason})`}: no automatic failover\n`;
  if (status.reasons.length > 0) {
    out += 'Reasons:\n';
    for (const r of status.reasons) out += `  - ${r.code}${r.member === null ? '' : ` [${r.member}]`} for ${formatDuration(now - Date.parse(r.since))} (since ${r.since}): ${r.message}\n`;
  }
  const candidates = status.members.filter((m) => m.eligibility !== null);
  if (candidates.length > 0) {
    out += 'Failover candidates (could take over right now if the active hub failed):\n';
    for (const m of candidates) {
      const e = m.eligibility!;
      if (e.eligible) out += `  ${m.name}: eligible\n`;
      else {
        out += `  ${m.name}: NOT eligible\n`;
        for (const r of e.reasons) out += `    - ${r.code}: ${r.message}\n`;
      }
    }
  }
  return out;
}

/** `hubha status`: prints the status (or its JSON); returns the exit code. */
export async function statusCommand(options: StatusCommandOptions, stdout: CommandOutput = process.stdout, stderr: CommandOutput = process.stderr): Promise<number> {
  const endpoints = resolveEndpoints(options.endpoints);
  const output = options.output ?? 'table';
  if (output !== 'table' && output !== 'json') throw new UsageError(`--output must be table or json, got ${JSON.stringify(output)}`);
  const client = await AdminClient.create({ timeoutMs: options.timeoutMs ?? 5_000 });
  let status: ClusterStatus;
  try {
    const answer = await client.status(endpoints, { serializable: options.serializable === true, ...(options.thresholds === undefined ? {} : { thresholds: options.thresholds }) });
    status = answer.value;
    for (const f of answer.failures) stderr.write(`hubha: ${f.endpoint} did not answer: ${f.error}\n`);
  } catch (err: unknown) {
    if (err instanceof AdminUnreachableError) {
      if (output === 'json') stdout.write(`${JSON.stringify({ error: 'unreachable', failures: err.failures })}\n`);
      stderr.write(`hubha: ${err.message}\n`);
      return STATUS_FAILED;
    }
    if (err instanceof AdminCallError) {
      stderr.write(`hubha: ${err.message}\n`);
      return STATUS_FAILED;
    }
    throw err;
  } finally {
    client.close();
  }
  if (!status.linearizable && options.serializable !== true) stderr.write(`hubha: warning: no member could confirm it is current; the answer from ${status.servedBy} (revision ${status.revision}) may be stale\n`);
  stdout.write(output === 'json' ? `${JSON.stringify(statusToJson(status))}\n` : renderStatus(status));
  if (options.check !== true) return STATUS_HEALTHY;
  return status.state === 'healthy' ? STATUS_HEALTHY : status.state === 'degraded' ? STATUS_DEGRADED : STATUS_FAILED;
}

const ENDPOINTS_HELP = 'comma-separated client endpoints, tried in turn (default $HUBHA_ENDPOINTS)';

export function registerStatusCommand(program: Command): void {
  program
    .command('status')
    .description('the cluster at a glance: every member (role, host, state, timeline, lag, Raft, last report), the HA state with every reason, and whether each standby could take over')
    .option('-e, --endpoints <list>', ENDPOINTS_HELP)
    .option('-o, --output <format>', 'table or json (the same JSON as GET /v1/status)', 'table')
    .option('--check', 'exit 0 when healthy, 1 when degraded, 2 when failed or no member answered')
    .option('--serializable', "accept the first member's answer without a read barrier (possibly stale)")
    .option('--timeout <ms>', 'per-endpoint deadline in milliseconds', '5000')
    .option('--report-max-age <ms>', 'a hub whose last report is older is report-stale (default: the member\'s, 5000)')
    .option('--lag-max-bytes <bytes>', 'replication lag above this is a reason (default 16 MiB)')
    .option('--lag-max-seconds <s>', 'replay lag above this is a reason (default 30)')
    .addHelpText(
      'after',
      `
Exit codes: without --check 0 when a member answered, 2 when none did; with --check 0 healthy,
1 degraded, 2 failed (no active hub, or no quorum) or unreachable.

Examples:
  hubha status --endpoints 10.0.0.11:7101,10.0.0.13:7101
  hubha status -o json | jq '.reasons[].code'
  hubha status --check --report-max-age 10000 || page-someone`,
    )
    .action(async (opts: { endpoints?: string; output: string; check?: boolean; serializable?: boolean; timeout: string; reportMaxAge?: string; lagMaxBytes?: string; lagMaxSeconds?: string }) => {
      const thresholds: { -readonly [K in keyof StatusThresholds]?: StatusThresholds[K] } = {};
      const reportMaxAgeMs = positiveNumber(opts.reportMaxAge, '--report-max-age');
      const lagMaxBytes = positiveNumber(opts.lagMaxBytes, '--lag-max-bytes');
      const lagMaxSeconds = positiveNumber(opts.lagMaxSeconds, '--lag-max-seconds', false);
      if (reportMaxAgeMs !== undefined) thresholds.reportMaxAgeMs = reportMaxAgeMs;
      if (lagMaxBytes !== undefined) thresholds.lagMaxBytes = lagMaxBytes;
      if (lagMaxSeconds !== undefined) thresholds.lagMaxSeconds = lagMaxSeconds;
      const timeoutMs = positiveNumber(opts.timeout, '--timeout');
      if (timeoutMs === 0) throw new UsageError('--timeout must be positive');
      process.exitCode = await statusCommand({ endpoints: opts.endpoints, output: opts.output, check: opts.check, serializable: opts.serializable, timeoutMs, thresholds });
    });
}
