/**
 * The lab for people: `npx tsx deploy/lab/cli.ts <command> [options]` (as root). See README.md.
 */
import { spawnSync } from 'node:child_process';
import { parseArgs } from 'node:util';
import { DEFAULT_LAB_HOSTS, DEFAULT_LAB_SUBNET, Lab, LabError, cleanupStale, listLabNamespaces } from './lab.js';
import { run } from './run.js';

const USAGE = `usage: tsx deploy/lab/cli.ts <command> [--prefix hubha-lab]

  up [--hosts hub1,hub2,witness,client] [--subnet 10.77.0.0/24] [--replace]
                          build the lab and leave it running
  down                    kill what runs in the lab and delete its namespaces (also after a crash)
  status                  namespaces, addresses, processes and faults in place
  exec HOST -- CMD ARG..  run a command inside HOST's namespace (stdio attached)
  isolate HOST            cut HOST off, both ways
  cut FROM TO             one-way cut: FROM's IPv4 packets no longer reach TO
  cut-link A B            both directions between A and B
  netem HOST [--delay MS] [--jitter MS] [--loss PCT]
                          delay/loss on HOST's outgoing packets (all zero: none)
  heal                    remove every cut, isolation and netem setting
`;

async function main(argv: string[]): Promise<number> {
  const dashDash = argv.indexOf('--');
  const own = dashDash >= 0 ? argv.slice(0, dashDash) : argv;
  const command = dashDash >= 0 ? argv.slice(dashDash + 1) : [];
  const { values, positionals } = parseArgs({
    args: own,
    allowPositionals: true,
    options: {
      prefix: { type: 'string', default: 'hubha-lab' },
      hosts: { type: 'string' },
      subnet: { type: 'string' },
      replace: { type: 'boolean', default: false },
      delay: { type: 'string' },
      jitter: { type: 'string' },
      loss: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  const [verb, ...args] = positionals;
  if (values.help || verb === undefined) {
    process.stdout.write(USAGE);
    return verb === undefined && !values.help ? 2 : 0;
  }
  const prefix = values.prefix;
  const need = (n: number): string[] => {
    if (args.length !== n) throw new LabError('INVALID_ARGUMENT', `${verb} takes ${n} argument(s)\n${USAGE}`);
    return args;
  };

  switch (verb) {
    case 'up': {
      const hosts = values.hosts ? values.hosts.split(',').map((h) => h.trim()) : DEFAULT_LAB_HOSTS;
      const lab = await Lab.create({ prefix, hosts, subnet: values.subnet ?? DEFAULT_LAB_SUBNET, replaceExisting: values.replace, cleanupOnExit: false });
      lab.detach();
      process.stdout.write(`lab ${prefix} is up\n`);
      await printStatus(lab);
      process.stdout.write(`\nenter a host: ip netns exec ${lab.namespace(hosts[0] as string)} bash\nremove it:    tsx deploy/lab/cli.ts down --prefix ${prefix}\n`);
      return 0;
    }
    case 'down': {
      const deleted = await cleanupStale(prefix);
      process.stdout.write(deleted.length === 0 ? `no lab ${prefix}\n` : `deleted ${deleted.join(', ')}\n`);
      return 0;
    }
    case 'status': {
      const names = await listLabNamespaces(prefix);
      if (names.length === 0) {
        process.stdout.write(`no lab ${prefix}\n`);
        return 1;
      }
      await printStatus(await Lab.attach({ prefix }));
      return 0;
    }
    case 'exec': {
      const [host] = need(1);
      if (command.length === 0) throw new LabError('INVALID_ARGUMENT', 'exec HOST -- CMD [ARG...]');
      const lab = await Lab.attach({ prefix });
      const r = spawnSync('ip', ['netns', 'exec', lab.namespace(host as string), ...command], { stdio: 'inherit' });
      return r.status ?? 1;
    }
    case 'isolate': {
      const [host] = need(1);
      await (await Lab.attach({ prefix })).isolate(host as string);
      return 0;
    }
    case 'cut': {
      const [from, to] = need(2);
      await (await Lab.attach({ prefix })).cutOneWay(from as string, to as string);
      return 0;
    }
    case 'cut-link': {
      const [a, b] = need(2);
      await (await Lab.attach({ prefix })).cutLink(a as string, b as string);
      return 0;
    }
    case 'netem': {
      const [host] = need(1);
      const num = (v: string | undefined, name: string): number => {
        const n = v === undefined ? 0 : Number(v);
        if (!Number.isFinite(n)) throw new LabError('INVALID_ARGUMENT', `--${name} must be a number`);
        return n;
      };
      await (await Lab.attach({ prefix })).netem(host as string, {
        delayMs: num(values.delay, 'delay'),
        jitterMs: num(values.jitter, 'jitter'),
        lossPct: num(values.loss, 'loss'),
      });
      return 0;
    }
    case 'heal': {
      need(0);
      await (await Lab.attach({ prefix })).heal();
      return 0;
    }
    default:
      process.stderr.write(`unknown command ${JSON.stringify(verb)}\n${USAGE}`);
      return 2;
  }
}

async function printStatus(lab: Lab): Promise<void> {
  const faults = await lab.faults();
  const rows: string[][] = [['host', 'namespace', 'address', 'mac', 'processes', 'faults']];
  for (const h of lab.hosts) {
    const pids = (await run(['ip', 'netns', 'pids', lab.namespace(h)], { check: false })).stdout.split('\n').filter(Boolean);
    rows.push([h, lab.namespace(h), lab.cidr(h), lab.mac(h), String(pids.length), (faults[h] ?? []).join('; ') || '-']);
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  process.stdout.write(`lab ${lab.prefix}: subnet ${lab.subnet}, bridge in ${lab.bridgeNamespace}\n`);
  for (const r of rows) process.stdout.write(`${r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] ?? 0))).join('  ')}\n`);
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    const e = err as Error & { code?: string };
    process.stderr.write(`lab: ${e instanceof LabError ? `${e.code}: ` : ''}${e.message}\n`);
    process.exit(1);
  },
);
