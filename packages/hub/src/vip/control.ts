import type { VipManager } from './manager.js';

/** The shape the hub agent consumes (its `VipControl`), kept structural to avoid a dependency. */
export interface VipControlLike {
  /** Idempotent; failures come back as `error` (code and message), with `held` false if unknown. */
  reconcile(desired: boolean): Promise<{ held: boolean; error: string | null }>;
  /** Removes the address now; rejects with the VipError if `ip addr del` failed. */
  release(): Promise<void>;
}

/** Adapts a VipManager to the agent's VipControl. */
export function toVipControl(manager: VipManager): VipControlLike {
  return {
    async reconcile(desired) {
      const o = await manager.reconcile(desired);
      return o.ok ? { held: o.held, error: null } : { held: o.held ?? false, error: `${o.error.code}: ${o.error.message}` };
    },
    async release() {
      const o = await manager.release();
      if (!o.ok) throw o.error;
    },
  };
}
