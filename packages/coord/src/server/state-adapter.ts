import type { Entry, NodeId, ReplicatedStateMachine } from '@hubha/raft';
import { CoordStateMachine } from '../state/state-machine.js';
import type { ApplyOutcome, BootstrapMember } from '../state/types.js';

/**
 * The coordination state machine as the Raft node drives it. A snapshot from the leader replaces
 * the machine wholesale, so the adapter owns the current instance and tells listeners.
 */
export class CoordStateAdapter implements ReplicatedStateMachine<ApplyOutcome> {
  private machine: CoordStateMachine;
  private readonly restoreListeners = new Set<(machine: CoordStateMachine) => void>();

  constructor(
    private readonly bootstrapMembers: readonly BootstrapMember[],
  ) {
    this.machine = new CoordStateMachine({ bootstrapMembers });
  }

  get state(): CoordStateMachine {
    return this.machine;
  }

  apply(entry: Entry): ApplyOutcome {
    return this.machine.apply(entry);
  }

  snapshot(): Uint8Array {
    return this.machine.snapshot();
  }

  restore(data: Uint8Array): void {
    this.machine = CoordStateMachine.restore(data);
    for (const listener of this.restoreListeners) listener(this.machine);
  }

  onRestore(listener: (machine: CoordStateMachine) => void): () => void {
    this.restoreListeners.add(listener);
    return () => this.restoreListeners.delete(listener);
  }

  /** Members' Raft endpoints: from the replicated member table, else the configuration's. */
  peerAddresses(): ReadonlyMap<NodeId, string> {
    const out = new Map<NodeId, string>();
    for (const m of this.bootstrapMembers) if (m.peer !== undefined) out.set(m.id, m.peer);
    for (const m of this.machine.members()) if (m.peerAddress !== null) out.set(m.id, m.peerAddress);
    // Only current members: a removed member's address must not keep a connection open.
    const current = new Set(this.machine.members().map((m) => m.id));
    for (const id of [...out.keys()]) if (!current.has(id)) out.delete(id);
    return out;
  }

  /** Members' client endpoints, for redirecting clients to the leader. */
  clientAddress(id: NodeId): string | null {
    const member = this.machine.members().find((m) => m.id === id);
    if (member?.clientAddress !== null && member?.clientAddress !== undefined) return member.clientAddress;
    return this.bootstrapMembers.find((m) => m.id === id)?.client ?? null;
  }
}
