/**
 * Errors of the virtual IP manager. Every error has a stable string `code` (match on it, not on
 * the message) and, where another error or a failed command caused it, `cause` / `command`.
 *
 * Configuration errors (INVALID_CONFIG) are thrown by the constructors. Everything that can go
 * wrong while the manager runs comes back as a value (`VipOutcome` with `ok: false`): a missing
 * capability or interface must show up in the hub's health report, not crash the failover loop.
 */

export type VipErrorCode =
  /** The address, prefix length, interface or namespace name is not acceptable (constructor). */
  | 'INVALID_CONFIG'
  /** EPERM: the process lacks CAP_NET_ADMIN (ip) or CAP_NET_RAW (arping). */
  | 'PERMISSION_DENIED'
  /** The interface does not exist (in this network namespace). */
  | 'INTERFACE_MISSING'
  /** The configured network namespace does not exist. */
  | 'NETNS_MISSING'
  /** `ip` or `arping` is not installed / not on PATH. */
  | 'COMMAND_MISSING'
  /** The command exited non-zero for a reason not classified above (stderr in `command`). */
  | 'COMMAND_FAILED'
  /** The command ran past its timeout and was killed. */
  | 'COMMAND_TIMEOUT'
  /** `ip -j addr show` printed something that is not the JSON we validate against. */
  | 'UNEXPECTED_OUTPUT'
  /** The manager was closed. */
  | 'CLOSED';

/** What a failed command left behind (bounded stderr/stdout tails). */
export interface VipCommandFailure {
  readonly command: string;
  readonly args: readonly string[];
  readonly exitCode: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly durationMs: number;
}

export class VipError extends Error {
  readonly code: VipErrorCode;
  readonly command: VipCommandFailure | undefined;

  constructor(code: VipErrorCode, message: string, options?: { cause?: unknown; command?: VipCommandFailure }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'VipError';
    this.code = code;
    this.command = options?.command;
  }

  /** A compact, log-friendly form (pino serializes it as is). */
  toJSON(): Record<string, unknown> {
    return {
      name: this.name,
      code: this.code,
      message: this.message,
      ...(this.command
        ? { command: [this.command.command, ...this.command.args].join(' '), exitCode: this.command.exitCode, stderr: this.command.stderr }
        : {}),
    };
  }
}

/**
 * Maps the stderr of `ip` / `ip netns exec` / `arping` to an error code. The texts are those of
 * iproute2 and iputils (C locale, which the runner enforces).
 */
export function classifyCommandStderr(stderr: string): VipErrorCode {
  const s = stderr;
  if (/Cannot open network namespace|No such file or directory.*netns|setting the network namespace .* failed/i.test(s)) return 'NETNS_MISSING';
  if (/Operation not permitted|Permission denied|You don't have permission|must be run as root|CAP_NET_(ADMIN|RAW)/i.test(s)) return 'PERMISSION_DENIED';
  if (/Device "[^"]*" does not exist|Cannot find device|Device [^ ]+ not available|No such device|Unknown device/i.test(s)) return 'INTERFACE_MISSING';
  return 'COMMAND_FAILED';
}
