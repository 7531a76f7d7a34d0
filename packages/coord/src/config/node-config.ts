import { readFile } from 'node:fs/promises';
import { isAbsolute, resolve as resolvePath, dirname } from 'node:path';
import { parseDocument } from 'yaml';
import { z } from 'zod';

/**
 * A node's configuration file (YAML). Everything is validated before the node touches its data
 * directory; an error names the file, the key and what is wrong with it.
 */

const hostPort = z
  .string()
  .regex(/^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/, { message: 'must be "host:port"', abort: true })
  .refine((v) => {
    const port = Number(v.slice(v.lastIndexOf(':') + 1));
    return port >= 0 && port <= 65535;
  }, 'port must be 0..65535');

/** A member's name: like a host name label, so that it fits in file names, URLs and inventory. */
export const NODE_NAME_PATTERN = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/;
export const MAX_NODE_NAME_CHARS = 63;

const nodeName = z
  .string()
  .min(1)
  .max(MAX_NODE_NAME_CHARS)
  .regex(NODE_NAME_PATTERN, 'must be lowercase letters, digits and inner dashes (like a host name)');

const memberSchema = z.strictObject({
  name: nodeName,
  /** The Raft peer endpoint other members dial. */
  peer: hostPort,
  /** The client endpoint (coordination API) clients and the CLI dial. */
  client: hostPort,
  /** The HTTP endpoint (discovery and health checks); optional: no HTTP server without it or node.listenHttp. */
  http: hostPort.optional(),
  /** A hub runs PostgreSQL (its node needs a hub section); a witness only votes and serves the store. */
  role: z.enum(['hub', 'witness']).default('witness'),
});

const tlsSchema = z.strictObject({
  ca: z.string().min(1),
  cert: z.string().min(1),
  key: z.string().min(1),
});

const raftSchema = z
  .strictObject({
    tickMs: z.number().int().min(5).max(10_000).default(50),
    electionTimeoutTicks: z.number().int().min(2).max(1000).default(8),
    heartbeatIntervalTicks: z.number().int().min(1).max(100).default(1),
    preVote: z.boolean().default(true),
    checkQuorum: z.boolean().default(true),
    canCampaign: z.boolean().default(true),
    snapshotEveryEntries: z.number().int().min(10).max(10_000_000).default(10_000),
    maxMsgBytes: z.number().int().min(1024).max(64 * 1024 * 1024).default(1024 * 1024),
  })
  .refine((r) => r.heartbeatIntervalTicks * 3 <= r.electionTimeoutTicks, {
    message: 'must be at most a third of electionTimeoutTicks (followers must hear several heartbeats per election timeout)',
    path: ['heartbeatIntervalTicks'],
  });

export const nodeConfigSchema = z
  .strictObject({
    cluster: z.strictObject({
      /** Every message and data directory carries it; nodes of another cluster are refused. */
      id: z.string().min(1).max(128).regex(/^[A-Za-z0-9._-]+$/, 'must be letters, digits, ".", "_" or "-"'),
      /** The initial members, identical on every node that bootstraps the cluster. */
      members: z.array(memberSchema).min(1).max(15),
    }),
    node: z.strictObject({
      name: nodeName,
      dataDir: z.string().min(1),
      /** Listen addresses; default to this member's advertised endpoints. */
      listenPeer: hostPort.optional(),
      listenClient: hostPort.optional(),
      /** The HTTP server (GET /v1/active-hub, /liveness, /readiness, the hub's routes); defaults to this member's `http`. */
      listenHttp: hostPort.optional(),
      /** true: this node is being added to a running cluster (it starts with an empty log). */
      join: z.boolean().default(false),
      /** Advertised endpoints when joining (a joining node is not in cluster.members). */
      peer: hostPort.optional(),
      client: hostPort.optional(),
    }),
    raft: raftSchema.default({
      tickMs: 50,
      electionTimeoutTicks: 8,
      heartbeatIntervalTicks: 1,
      preVote: true,
      checkQuorum: true,
      canCampaign: true,
      snapshotEveryEntries: 10_000,
      maxMsgBytes: 1024 * 1024,
    }),
    tls: tlsSchema.optional(),
    /** Must match this node's role in cluster.members (default: that role). */
    role: z.enum(['hub', 'witness']).optional(),
    /** The hub sidecar's settings (role hub); validated by the hub package. */
    hub: z.unknown().optional(),
    log: z.strictObject({ level: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal']).default('info') }).default({ level: 'info' }),
  })
  .superRefine((config, ctx) => {
    const names = new Set<string>();
    config.cluster.members.forEach((m, i) => {
      if (names.has(m.name)) ctx.addIssue({ code: 'custom', message: `duplicate member name "${m.name}"`, path: ['cluster', 'members', i, 'name'] });
      names.add(m.name);
    });
    const self = config.cluster.members.find((m) => m.name === config.node.name);
    if (!config.node.join && self === undefined) {
      ctx.addIssue({ code: 'custom', message: `node "${config.node.name}" is not in cluster.members (set node.join: true to add it to a running cluster)`, path: ['node', 'name'] });
    }
    if (self !== undefined && config.role !== undefined && config.role !== self.role) {
      ctx.addIssue({ code: 'custom', message: `role ${config.role} differs from this node's role in cluster.members (${self.role})`, path: ['role'] });
    }
    if (config.node.join && self === undefined && (config.node.peer === undefined || config.node.client === undefined)) {
      ctx.addIssue({ code: 'custom', message: 'a joining node not listed in cluster.members needs node.peer and node.client (its advertised endpoints)', path: ['node'] });
    }
  });

export type NodeConfig = z.infer<typeof nodeConfigSchema>;
export type MemberConfig = z.infer<typeof memberSchema>;

export class ConfigError extends Error {
  readonly code = 'CONFIG_INVALID';
  constructor(
    readonly file: string,
    readonly problems: readonly string[],
    options?: { cause?: unknown },
  ) {
    super(`${file}: invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`, options);
    this.name = 'ConfigError';
  }
}

/** Parses and validates YAML text; `file` is used in messages and to resolve relative paths. */
export function parseNodeConfig(text: string, file: string): NodeConfig {
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) throw new ConfigError(file, doc.errors.map((e) => `YAML: ${e.message.split('\n')[0]}`));
  const parsed = nodeConfigSchema.safeParse(doc.toJS());
  if (!parsed.success) {
    throw new ConfigError(
      file,
      parsed.error.issues.map((issue) => `${issue.path.length > 0 ? issue.path.join('.') : '(top level)'}: ${issue.message}`),
    );
  }
  const config = parsed.data;
  const base = dirname(resolvePath(file));
  const abs = (p: string): string => (isAbsolute(p) ? p : resolvePath(base, p));
  return {
    ...config,
    node: { ...config.node, dataDir: abs(config.node.dataDir) },
    ...(config.tls === undefined ? {} : { tls: { ca: abs(config.tls.ca), cert: abs(config.tls.cert), key: abs(config.tls.key) } }),
  };
}

export async function loadNodeConfig(file: string): Promise<NodeConfig> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new ConfigError(file, [`cannot read the file: ${(err as NodeJS.ErrnoException).code ?? String(err)}`], { cause: err });
  }
  return parseNodeConfig(text, file);
}

/** This node's advertised endpoints. */
export function selfEndpoints(config: NodeConfig): { peer: string; client: string } {
  const self = config.cluster.members.find((m) => m.name === config.node.name);
  const peer = config.node.peer ?? self?.peer;
  const client = config.node.client ?? self?.client;
  if (peer === undefined || client === undefined) throw new ConfigError('(config)', [`node "${config.node.name}" has no peer/client endpoint`]);
  return { peer, client };
}
