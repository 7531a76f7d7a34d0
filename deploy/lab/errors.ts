/** Errors of the network-namespace lab: a stable `code`, a message, and the failed command if any. */

export type LabErrorCode =
  /** A prefix, host name, subnet, argument list or option is not acceptable. */
  | 'INVALID_ARGUMENT'
  /** Creating network namespaces is not permitted here (not root, or no CAP_SYS_ADMIN). */
  | 'NOT_PERMITTED'
  /** Namespaces with this prefix exist already (another lab, or leftovers: see cleanupStale). */
  | 'LAB_EXISTS'
  /** attach(): the lab's namespaces or addresses are not as expected. */
  | 'LAB_MISSING'
  | 'UNKNOWN_HOST'
  /** pause/resume of a PID that does not live in one of this lab's namespaces. */
  | 'NOT_IN_LAB'
  /** The kernel lacks a feature (e.g. sch_netem for delays). */
  | 'UNSUPPORTED'
  | 'COMMAND_FAILED'
  | 'COMMAND_TIMEOUT'
  | 'DESTROYED';

export interface LabCommandFailure {
  readonly argv: readonly string[];
  readonly exitCode: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

export class LabError extends Error {
  readonly code: LabErrorCode;
  readonly command: LabCommandFailure | undefined;

  constructor(code: LabErrorCode, message: string, options?: { cause?: unknown; command?: LabCommandFailure }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'LabError';
    this.code = code;
    this.command = options?.command;
  }
}
