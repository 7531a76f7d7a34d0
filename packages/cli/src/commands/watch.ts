import type { Command } from 'commander';
import { AdminClient } from '@hubha/coord';
import type { AdminEvent } from '@hubha/coord';
import { UsageError, resolveEndpoints } from './endpoints.js';
import type { CommandOutput } from './status.js';

export function renderEvent(e: AdminEvent): string {
  return `${e.at}  ${e.type.padEnd(21)} ${(e.member ?? '-').padEnd(10)} ${e.message}\n`;
}

/**
 * `hubha watch`: the events of one member (the first that answers), one line each, until Ctrl-C
 * (or `signal`). When the stream ends (the member went away) it watches the next endpoint.
 * Resolves with the exit code: 0 when stopped.
 */
export async function watchCommand(options: { endpoints?: string | undefined; output?: string | undefined; signal?: AbortSignal }, stdout: CommandOutput = process.stdout, stderr: CommandOutput = process.stderr): Promise<number> {
  const endpoints = resolveEndpoints(options.endpoints);
  const output = options.output ?? 'text';
  if (output !== 'text' && output !== 'json') throw new UsageError(`--output must be text or json, got ${JSON.stringify(output)}`);
  const client = await AdminClient.create();
  const abort = new AbortController();
  const onSignal = (): void => abort.abort();
  options.signal?.addEventListener('abort', onSignal, { once: true });
  if (options.signal === undefined) {
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
  }
  try {
    let next = 0;
    while (!abort.signal.aborted) {
      const endpoint = endpoints[next % endpoints.length]!;
      next++;
      let received = false;
      const ended = await new Promise<Error | null>((resolve) => {
        const watch = client.watch(endpoint, {
          onEvent: (e) => {
            received = true;
            stdout.write(output === 'json' ? `${JSON.stringify({ ...e, endpoint })}\n` : renderEvent(e));
          },
          onEnd: (err) => resolve(err),
        });
        abort.signal.addEventListener('abort', () => {
          watch.cancel();
          resolve(null);
        }, { once: true });
      });
      if (abort.signal.aborted) break;
      stderr.write(`hubha: the watch on ${endpoint} ended${ended === null ? '' : `: ${ended.message}`}; ${endpoints.length > 1 ? 'trying the next member' : 'retrying'}\n`);
      // Back off a little when nothing came through (the member is down).
      await new Promise((r) => setTimeout(r, received ? 100 : 1000));
    }
    return 0;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    client.close();
  }
}

export function registerWatchCommand(program: Command): void {
  program
    .command('watch')
    .description('follow the cluster: one line per event (active hub, lease, synchronous standby, pause, promotions, hub roles, streaming, HA state) until Ctrl-C')
    .option('-e, --endpoints <list>', 'comma-separated client endpoints; the next is watched when one goes away (default $HUBHA_ENDPOINTS)')
    .option('-o, --output <format>', 'text or json (one object per line)', 'text')
    .addHelpText('after', '\nThe first line is the "watching" event (where the stream starts), then one line per change as\nthe member applies it. Ctrl-C ends it (exit 0).\n\nExample:\n  hubha watch --endpoints 10.0.0.13:7101\n')
    .action(async (opts: { endpoints?: string; output: string }) => {
      process.exitCode = await watchCommand({ endpoints: opts.endpoints, output: opts.output });
    });
}
