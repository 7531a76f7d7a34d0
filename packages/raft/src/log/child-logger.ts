import type { Logger } from 'pino';

/**
 * logger.child(bindings) without the keys the parent already binds to the same value. pino writes
 * every binding of the chain, so a component that names its node under a process logger that
 * already does would print `"node"` two or three times in one JSON line — which JSON tools read
 * as the last one, or reject.
 */
export function childLogger(parent: Logger, bindings: Readonly<Record<string, unknown>>): Logger {
  const bound = parent.bindings();
  const fresh: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(bindings)) if (!(key in bound && bound[key] === value)) fresh[key] = value;
  return parent.child(fresh);
}
