import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { z } from 'zod';

/**
 * The small client configuration the `hubha` command reads when neither --endpoints nor
 * $HUBHA_ENDPOINTS is given: $HUBHA_CLIENT_CONFIG, else ~/.config/hubha/client.yaml, else
 * /etc/hubha/client.yaml. A file that exists but is wrong is an error (never silently skipped).
 *
 *     # /etc/hubha/client.yaml
 *     endpoints: [10.0.0.11:7101, 10.0.0.12:7101, 10.0.0.13:7101]
 */
const endpoint = z.string().regex(/^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/, 'must be host:port');
const clientConfigSchema = z.strictObject({ endpoints: z.array(endpoint).min(1).max(64) });
export type ClientConfig = z.infer<typeof clientConfigSchema>;

export class ClientConfigError extends Error {
  readonly code = 'CLIENT_CONFIG';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ClientConfigError';
  }
}

export function clientConfigPaths(env: NodeJS.ProcessEnv = process.env): string[] {
  if (env.HUBHA_CLIENT_CONFIG !== undefined && env.HUBHA_CLIENT_CONFIG !== '') return [env.HUBHA_CLIENT_CONFIG];
  return [join(homedir(), '.config', 'hubha', 'client.yaml'), '/etc/hubha/client.yaml'];
}

/** The first client configuration that exists, validated; null when there is none. */
export function loadClientConfig(paths: readonly string[] = clientConfigPaths()): { path: string; config: ClientConfig } | null {
  for (const path of paths) {
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw new ClientConfigError(`${path}: cannot read: ${(err as Error).message}`, { cause: err });
    }
    let raw: unknown;
    try {
      raw = parse(text);
    } catch (err) {
      throw new ClientConfigError(`${path}: not YAML: ${(err as Error).message}`, { cause: err });
    }
    const parsed = clientConfigSchema.safeParse(raw);
    if (!parsed.success) throw new ClientConfigError(`${path}: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(file)'}: ${i.message}`).join('; ')}`);
    return { path, config: parsed.data };
  }
  return null;
}
