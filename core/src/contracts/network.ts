import type { Lease } from './lease.js';

/**
 * One overlay network as a backend programs it. `run` watches peer leases and keeps the kernel in step
 * until `signal` aborts, then resolves.
 */
export interface Network {
  readonly lease: Lease;
  /** Written to subnet.env as FLANNEL_MTU. */
  readonly mtu: number;
  run(signal: AbortSignal): Promise<void>;
  /** Counts for /metrics and status; optional. */
  stats?(): NetworkStats;
}

export interface NetworkStats {
  /** Peers whose subnets are programmed. */
  peers: number;
  /** Peers left out, e.g. a host-gw peer off our L2 segment, or a lease with malformed data. */
  skippedPeers: number;
}
