import type { Command } from 'commander';
import { DiscoveryClient, DiscoveryUnreachableError, answerToJson } from '@hubha/coord';
import type { FoundActiveHub } from '@hubha/coord';

/** Exit codes of `hubha active-hub`: present, absent, no member answered (or usage). */
export const ACTIVE_HUB_PRESENT = 0;
export const ACTIVE_HUB_ABSENT = 1;
export const ACTIVE_HUB_UNREACHABLE = 2;

export interface ActiveHubCommandOptions {
  /** "host:port,host:port" (client endpoints); default $HUBHA_ENDPOINTS. */
  readonly endpoints?: string | undefined;
  /** 'text' (default) or 'json'. */
  readonly output?: string | undefined;
  readonly serializable?: boolean | undefined;
  /** Per endpoint, ms (default 3000). */
  readonly timeoutMs?: number | undefined;
}

export interface CommandOutput {
  write(text: string): void;
}

function splitEndpoints(raw: string): string[] {
  return raw
    .split(',')
    .map((e) => e.trim())
    .filter((e) => e !== '');
}

/**
 * `hubha active-hub`: asks the members' Discovery service in turn where the active hub is. Prints
 * `name address epoch` (or the answer's JSON with -o json). Returns the exit code: 0 there is an
 * active hub, 1 there is none, 2 no member answered (or bad usage).
 */
export async function activeHubCommand(
  options: ActiveHubCommandOptions,
  stdout: CommandOutput = process.stdout,
  stderr: CommandOutput = process.stderr,
): Promise<number> {
  const endpoints = splitEndpoints(options.endpoints ?? process.env.HUBHA_ENDPOINTS ?? '');
  const output = options.output ?? 'text';
  if (endpoints.length === 0) {
    stderr.write('hubha: no endpoints: pass --endpoints host:port[,host:port...] or set HUBHA_ENDPOINTS\n');
    return ACTIVE_HUB_UNREACHABLE;
  }
  if (output !== 'text' && output !== 'json') {
    stderr.write(`hubha: --output must be text or json, got ${JSON.stringify(output)}\n`);
    return ACTIVE_HUB_UNREACHABLE;
  }
  const timeoutMs = options.timeoutMs ?? 3_000;
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) {
    stderr.write('hubha: --timeout must be a positive number of milliseconds\n');
    return ACTIVE_HUB_UNREACHABLE;
  }
  const client = await DiscoveryClient.create({ timeoutMs });
  let found: FoundActiveHub;
  try {
    found = await client.findActiveHub(endpoints, { serializable: options.serializable === true });
  } catch (err: unknown) {
    if (err instanceof DiscoveryUnreachableError) {
      if (output === 'json') stdout.write(`${JSON.stringify({ error: 'unreachable', failures: err.failures })}\n`);
      stderr.write(`hubha: ${err.message}\n`);
      return ACTIVE_HUB_UNREACHABLE;
    }
    throw err;
  } finally {
    client.close();
  }
  const { answer } = found;
  if (!answer.linearizable && options.serializable !== true) {
    stderr.write(`hubha: warning: no member could confirm it is current; answer from ${answer.servedBy} at revision ${answer.revision} may be stale\n`);
  }
  if (output === 'json') stdout.write(`${JSON.stringify(answerToJson(answer))}\n`);
  else if (answer.present) stdout.write(`${answer.name} ${answer.address} ${answer.epoch}\n`);
  else stderr.write(`no active hub (served by ${answer.servedBy}, revision ${answer.revision})\n`);
  return answer.present ? ACTIVE_HUB_PRESENT : ACTIVE_HUB_ABSENT;
}

export function registerActiveHubCommand(program: Command): void {
  program
    .command('active-hub')
    .description('where the active hub is: "name address epoch" (exit 0), none (exit 1), no member answered (exit 2)')
    .option('-e, --endpoints <list>', 'comma-separated client endpoints, tried in turn (default $HUBHA_ENDPOINTS)')
    .option('-o, --output <format>', 'text or json', 'text')
    .option('--serializable', 'accept the first member\'s answer without a read barrier (possibly stale)')
    .option('--timeout <ms>', 'per-endpoint deadline in milliseconds', '3000')
    .action(async (opts: { endpoints?: string; output: string; serializable?: boolean; timeout: string }) => {
      process.exitCode = await activeHubCommand({ endpoints: opts.endpoints, output: opts.output, serializable: opts.serializable, timeoutMs: Number(opts.timeout) });
    });
}
