import { access } from 'node:fs/promises';
import { hostname } from 'node:os';
import type { Command } from 'commander';
import { AdminCallError, AdminClient, AdminUnreachableError, loadNodeConfig } from '@hubha/coord';
import type { ClusterStatus, NodeConfig } from '@hubha/coord';
import { inventoryFacts, inventoryVariables, unreachableFacts } from '../inventory/facts.js';
import { formatModuleProtocol } from '../inventory/module-protocol.js';
import { UsageError, resolveEndpoints } from './endpoints.js';
import type { CommandOutput } from './status.js';
import { positiveNumber } from './status.js';

/** `hubha inventory` exit codes: the facts were printed, or no member answered (or usage). */
export const INVENTORY_OK = 0;
export const INVENTORY_UNREACHABLE = 2;

/** Where a host's own configuration is looked for when neither --config nor $HUBHA_CONFIG says. */
export const DEFAULT_CONFIG_FILES = ['/etc/hubha/hub.yaml', '/etc/hubha/witness.yaml'] as const;

/** The bundle the variables are defined in: $(hubha.hubha_active_hub_ip). */
export const INVENTORY_CONTEXT = 'hubha';

export interface InventoryOptions {
  readonly endpoints?: string | undefined;
  /** This host's member name (default: the configuration's node.name, else the short host name). */
  readonly node?: string | undefined;
  /** This host's configuration file (default $HUBHA_CONFIG, else the first of DEFAULT_CONFIG_FILES that exists). */
  readonly config?: string | undefined;
  readonly timeoutMs?: number | undefined;
  /** Test seam: the files looked for when no configuration is named. */
  readonly defaultConfigFiles?: readonly string[];
}

async function exists(file: string): Promise<boolean> {
  return access(file).then(
    () => true,
    () => false,
  );
}

/** The host's configuration: named (it must load), or the first default that exists; null when none. */
async function hostConfig(options: InventoryOptions): Promise<NodeConfig | null> {
  const named = options.config ?? process.env.HUBHA_CONFIG;
  if (named !== undefined && named !== '') return loadNodeConfig(named);
  for (const file of options.defaultConfigFiles ?? DEFAULT_CONFIG_FILES) if (await exists(file)) return loadNodeConfig(file);
  return null;
}

/**
 * --endpoints, else $HUBHA_ENDPOINTS, else the members' client endpoints from the host's
 * configuration, else the client configuration file (resolveEndpoints).
 */
function inventoryEndpoints(flag: string | undefined, config: NodeConfig | null): string[] {
  const raw = flag ?? process.env.HUBHA_ENDPOINTS ?? '';
  if (raw.trim() !== '' || config === null) return resolveEndpoints(flag);
  const fromConfig = new Set(config.cluster.members.map((m) => m.client));
  if (config.node.client !== undefined) fromConfig.add(config.node.client);
  return [...fromConfig];
}

/**
 * `hubha inventory`: the cluster's facts for CFEngine, in its module protocol, about this host.
 * When no member answers it still prints the variables — "unknown", with the reason — so that
 * inventory shows the host cut off rather than stale facts, and exits 2.
 */
export async function inventoryCommand(options: InventoryOptions, stdout: CommandOutput = process.stdout, stderr: CommandOutput = process.stderr): Promise<number> {
  const config = await hostConfig(options);
  const node = options.node ?? config?.node.name ?? hostname().split('.')[0]!;
  if (node === '') throw new UsageError('--node must not be empty');
  const endpoints = inventoryEndpoints(options.endpoints, config);
  const client = await AdminClient.create({ timeoutMs: options.timeoutMs ?? 5_000, ...(config?.tls === undefined ? {} : { tls: config.tls }) });
  let status: ClusterStatus;
  try {
    status = (await client.status(endpoints)).value;
  } catch (err: unknown) {
    if (!(err instanceof AdminUnreachableError) && !(err instanceof AdminCallError)) throw err;
    stderr.write(`hubha: ${err.message}\n`);
    stdout.write(formatModuleProtocol(INVENTORY_CONTEXT, inventoryVariables(unreachableFacts(node, err instanceof AdminUnreachableError ? 'no member answered' : err.message))));
    return INVENTORY_UNREACHABLE;
  } finally {
    client.close();
  }
  stdout.write(formatModuleProtocol(INVENTORY_CONTEXT, inventoryVariables(inventoryFacts(status, node))));
  return INVENTORY_OK;
}

export function registerInventoryCommand(program: Command): void {
  program
    .command('inventory')
    .description("the cluster's facts for CFEngine inventory, in its module protocol: the active hub and its IP, this host's HA status, the HA state and its reasons, paused")
    .option('-e, --endpoints <list>', "comma-separated client endpoints, tried in turn (default $HUBHA_ENDPOINTS, else the members in this host's configuration, else the client configuration file)")
    .option('-n, --node <name>', "this host's member name (default: node.name of the configuration, else the short host name)")
    .option('-c, --config <file>', `this host's configuration (default $HUBHA_CONFIG, else ${DEFAULT_CONFIG_FILES.join(' or ')} if present)`)
    .option('--timeout <ms>', 'per-endpoint deadline in milliseconds', '5000')
    .addHelpText(
      'after',
      `
Output (variables in bundle "hubha"; each tagged for inventory; the reasons list is left out when
there is none, as the protocol cannot write an empty list):
  ^context=hubha
  ^meta=source=hubha
  =hubha_node=hub1
  ^meta=inventory,attribute_name=HA active hub
  =hubha_active_hub=hub1
  ^meta=inventory,attribute_name=HA active hub IP
  =hubha_active_hub_ip=10.0.0.100
  ^meta=inventory,attribute_name=HA status
  =hubha_ha_status=active
  ^meta=inventory,attribute_name=HA state
  =hubha_ha_state=degraded
  ^meta=inventory,attribute_name=HA degraded reasons
  @hubha_degraded_reasons= { "standby-not-streaming: hub2 is not streaming from hub1" }
  ^meta=inventory,attribute_name=HA paused
  =hubha_paused=false

HA status: active, standby (another hub), witness, unknown (not a member). The active hub's IP is
the VIP's address when one is configured, else the host of its PostgreSQL address.

Exit codes: 0 printed, 2 no member answered (the variables are then printed as "unknown", with the
reason) or usage.

In policy:
  commands: "/usr/bin/hubha inventory" module => "true";`,
    )
    .action(async (opts: { endpoints?: string; node?: string; config?: string; timeout: string }) => {
      const timeoutMs = positiveNumber(opts.timeout, '--timeout');
      if (timeoutMs === 0) throw new UsageError('--timeout must be positive');
      process.exitCode = await inventoryCommand({ endpoints: opts.endpoints, node: opts.node, config: opts.config, timeoutMs });
    });
}
