/**
 * What the reconciliation engine reports as it works. flanneld turns these into Prometheus metrics; a
 * backend never calls it. Every method is optional, so an observer may listen to part of it.
 */
export interface ReconcilerObserver {
  /** Lease events from the store (our own lease already dropped), by type; a full listing counts as one 'snapshot'. */
  leaseEvents?(type: 'added' | 'removed' | 'snapshot', count: number): void;
  /** A pass of the engine starts (flanneld's event-loop monitor samples finely from then). */
  passStarted?(kind: 'events' | 'resync'): void;
  /** One pass of the engine: applying lease events, or a resync against the kernel; ok is false when a write or the pass failed. */
  reconcilePass?(kind: 'events' | 'resync', ok: boolean): void;
  /** Kernel objects a resync had to put back, correct or remove, by kind: route, neigh, fdb, nexthop, device. */
  repaired?(kind: string, count: number): void;
  /** Netlink operations sent, and the ones that failed, by errno name (EEXIST, ENODEV, ...). */
  netlinkOps?(count: number, errors: ReadonlyMap<string, number>): void;
  /** Seconds from a lease event's arrival to the kernel holding what it asked for. */
  leaseToKernel?(seconds: number): void;
}
/** The DI token under which flanneld binds its observer (optional: the registry passes none without it). */
export const ReconcilerObserver = Symbol.for('flannel-ts.ReconcilerObserver');
