import type { Observable } from 'rxjs';
import type { Lease, LeaseAttrs, LeaseWatchResult } from './lease.js';
import type { NetworkConfig } from './network-config.js';

/** The lease store's policy side: etcd, the Kubernetes API, or the embedded store. */
export interface SubnetManager {
  /** For logs, e.g. "Etcd Local Manager with Previous Subnet: 10.244.3.0/24". */
  readonly name: string;
  getNetworkConfig(signal: AbortSignal): Promise<NetworkConfig>;
  acquireLease(attrs: LeaseAttrs, signal: AbortSignal): Promise<Lease>;
  /**
   * The lease that `acquireLease(attrs)` would reuse because it carries our public IP, without changing
   * anything. Backends read their previous BackendData from it (the vxlan VtepMAC). Optional.
   */
  lookupLease?(attrs: LeaseAttrs, signal: AbortSignal): Promise<Lease | undefined>;
  /** Extends the lease; resolves with its new expiration. */
  renewLease(lease: Lease, signal: AbortSignal): Promise<Lease>;
  /** Every lease in the network: a snapshot first, then changes. Completes when unsubscribed. */
  watchLeases(): Observable<LeaseWatchResult>;
  /**
   * Holds the lease until `signal` aborts: renews it in time (etcd), or marks the node ready (kube).
   * Rejects with LeaseRevokedError if someone deletes our lease.
   */
  completeLease(lease: Lease, signal: AbortSignal): Promise<void>;
}
export const SubnetManager = Symbol.for('flannel-ts.SubnetManager');

export class LeaseRevokedError extends Error {
  override readonly name = 'LeaseRevokedError';
  constructor(subnet: string) {
    super(`lease ${subnet} has been revoked`);
  }
}
