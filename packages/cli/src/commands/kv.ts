import type { Command } from 'commander';
import { withClient } from './endpoints.js';

/** `hubha kv …`: direct access to the coordination store, for operators and scripts. */
export function registerKvCommands(program: Command): void {
  const kv = program.command('kv').description('read and write keys of the coordination store');
  kv.command('put <key> <value>')
    .description('write a key (linearizable, exactly once)')
    .option('-e, --endpoints <list>', 'comma-separated client endpoints (default $HUBHA_ENDPOINTS)')
    .action(async (key: string, value: string, opts: { endpoints?: string }) => {
      await withClient(opts.endpoints, async (client) => {
        const res = await client.session('cli').put(key, value);
        process.stdout.write(`revision ${res.header.revision}\n`);
      });
    });
  kv.command('get <key>')
    .description('read a key (linearizable unless --serializable)')
    .option('-e, --endpoints <list>', 'comma-separated client endpoints (default $HUBHA_ENDPOINTS)')
    .option('--serializable', 'serve from any member, possibly stale')
    .action(async (key: string, opts: { endpoints?: string; serializable?: boolean }) => {
      await withClient(opts.endpoints, async (client) => {
        const res = await client.session('cli').get(key, { serializable: opts.serializable === true });
        if (res.kv === null) {
          process.stderr.write(`${key}: not found\n`);
          process.exitCode = 1;
          return;
        }
        process.stdout.write(`${Buffer.from(res.kv.value).toString('utf8')}\n`);
      });
    });
  kv.command('del <key>')
    .description('delete a key')
    .option('-e, --endpoints <list>', 'comma-separated client endpoints (default $HUBHA_ENDPOINTS)')
    .action(async (key: string, opts: { endpoints?: string }) => {
      await withClient(opts.endpoints, async (client) => {
        const res = await client.session('cli').delete(key);
        process.stdout.write(`deleted ${res.deleted}\n`);
      });
    });
}
