import { defer, filter, map, type OperatorFunction } from 'rxjs';
import type { Lease, LeaseEvent, LeaseWatchResult } from '../contracts/lease.js';
import { LeaseWatcher } from './lease-watcher.js';

/**
 * The RxJS form of flannel's subnet.WatchLeases: store results in, non-empty batches of peer events out.
 * Each subscription gets its own LeaseWatcher, so a resubscribe (after an error, say) starts clean and
 * the first snapshot re-announces every peer.
 */
export function toLeaseEvents(ownLease: Lease, onUnknownRemoval?: (lease: Lease) => void): OperatorFunction<LeaseWatchResult, LeaseEvent[]> {
  return (source) =>
    defer(() => {
      const watcher = new LeaseWatcher(ownLease, onUnknownRemoval);
      return source.pipe(
        map((result) => watcher.apply(result)),
        filter((batch) => batch.length > 0),
      );
    });
}
