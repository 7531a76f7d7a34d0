/** Exceptions of the state machine. Refused commands are not exceptions: they are ErrorResults. */

/** restore() was given data that is not a valid snapshot of this state machine. */
export class CoordSnapshotError extends Error {
  readonly code = 'COORD_SNAPSHOT_CORRUPT';
  constructor(message: string) {
    super(`corrupt coordination snapshot: ${message}`);
    this.name = 'CoordSnapshotError';
  }
}

/** Misuse of the state machine's API (e.g. entries applied out of order). A caller bug. */
export class CoordUsageError extends Error {
  readonly code = 'COORD_USAGE';
  constructor(message: string) {
    super(message);
    this.name = 'CoordUsageError';
  }
}
