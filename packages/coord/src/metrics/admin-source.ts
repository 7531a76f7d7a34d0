import type { AdminService } from '../admin/admin-service.js';
import { SOFTWARE_VERSION } from '../server/cluster-service.js';
import type { LocalRaftView, MetricsSource } from './node-metrics.js';

/**
 * A member's metrics source: its Raft node for its own view, its Admin service for the cluster's
 * status and history. Both reads are serializable — no read barrier — so that a member cut off
 * from the quorum still answers a scrape (with no-quorum among the reasons) instead of timing out.
 */
export function adminMetricsSource(host: { readonly id: string; readonly raft: { status(): LocalRaftView } }, admin: AdminService): MetricsSource {
  return {
    id: host.id,
    version: SOFTWARE_VERSION,
    raftStatus: () => host.raft.status(),
    cluster: async () => {
      const [status, history] = await Promise.all([admin.status({ serializable: true }), admin.history({ serializable: true })]);
      return { status, history: history.entries };
    },
  };
}
