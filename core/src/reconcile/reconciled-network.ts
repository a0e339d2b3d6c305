import type { BackendContext } from '../contracts/backend-plugin.js';
import type { Dataplane } from '../contracts/dataplane.js';
import type { JsonValue, Lease } from '../contracts/lease.js';
import type { Network, PeerTraffic } from '../contracts/network.js';
import type { NetworkConfig } from '../contracts/network-config.js';
import { DEFAULT_TIMING, Reconciler, type ReconcilerTiming } from './reconciler.js';

export interface ReconciledNetworkOptions {
  /** Our lease, as acquired in registerNetwork. */
  lease: Lease;
  /** The pods' MTU (subnet.env's FLANNEL_MTU). */
  mtu: number;
  /** The network config registerNetwork was given: peer leases are checked against it. */
  config: NetworkConfig;
  dataplane: Dataplane;
  timing?: Partial<ReconcilerTiming>;
  /** Settings worth showing in `flannelctl status` (NetworkStatus.details). */
  details?: () => Record<string, JsonValue>;
  /** Per-peer tunnel counters read from the kernel (Network.peerTraffic), for /metrics and status. */
  peerTraffic?: () => Promise<PeerTraffic[]>;
}

/**
 * The Network a backend returns from registerNetwork when core's engine runs its data plane: peers from
 * the subnet manager's lease stream, kernel writes through the context's netlink, time from its clock.
 */
export function reconciledNetwork(ctx: BackendContext, o: ReconciledNetworkOptions): Network {
  const engine = new Reconciler(
    o.dataplane,
    {
      netlink: ctx.netlink,
      logger: ctx.logger,
      clock: ctx.clock,
      leases: ctx.subnetManager.watchLeases(),
      ownLease: o.lease,
      config: o.config,
      ...(ctx.observer ? { observer: ctx.observer } : {}),
    },
    // The operator's period (flanneld's flag) wins over the backend's own default.
    { ...DEFAULT_TIMING, ...o.timing, ...(ctx.resyncMs ? { resyncMs: ctx.resyncMs } : {}) },
  );
  return {
    lease: o.lease,
    mtu: o.mtu,
    run: (signal) => engine.run(signal),
    stats: () => engine.stats(),
    status: () => (o.details ? { ...engine.status(), details: o.details() } : engine.status()),
    diff: () => engine.diff(),
    ...(o.peerTraffic ? { peerTraffic: o.peerTraffic } : {}),
  };
}
