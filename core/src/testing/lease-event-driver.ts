import { Subject, type Observable } from 'rxjs';
import type { Lease, LeaseWatchResult } from '../contracts/lease.js';

/**
 * A store's lease stream under the test's control: it says when the first snapshot arrives, what each
 * change carries (a removal names the subnet only, as etcd's does) and when the watch fails.
 */
export class LeaseEventDriver {
  private readonly results = new Subject<LeaseWatchResult>();

  get stream(): Observable<LeaseWatchResult> {
    return this.results.asObservable();
  }

  snapshot(...leases: Lease[]): void {
    this.results.next({ kind: 'snapshot', snapshot: leases });
  }

  added(...leases: Lease[]): void {
    this.results.next({ kind: 'events', events: leases.map((lease) => ({ type: 'added', lease })) });
  }

  removed(...leases: Lease[]): void {
    const events = leases.map((l) => ({
      type: 'removed' as const,
      lease: { ...(l.subnet ? { subnet: l.subnet } : {}), ...(l.ipv6Subnet ? { ipv6Subnet: l.ipv6Subnet } : {}), attrs: {} },
    }));
    this.results.next({ kind: 'events', events });
  }

  fail(err: Error): void {
    this.results.error(err);
  }
}
