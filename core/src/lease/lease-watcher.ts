import type { Lease, LeaseEvent, LeaseWatchResult } from '../contracts/lease.js';
import { sameLeaseAttrs } from './lease-attrs-json.js';

/**
 * Turns a store's watch results into Added/Removed events for a backend, keeping the list of
 * known peer leases. Flannel's LeaseWatcher semantics, with two deliberate fixes:
 *  - a snapshot also reports a known lease whose attributes changed (an Added with the new attributes),
 *    where Go flannel reports nothing, so a peer that changed its VTEP MAC is reprogrammed;
 *  - an empty batch of events (a store that could not parse what it saw) removes nothing, where Go
 *    flannel treats it as an empty snapshot and withdraws every peer.
 * Our own lease is never reported.
 */
export class LeaseWatcher {
  private known = new KnownLeases();

  constructor(
    private readonly ownLease: Lease,
    private readonly onUnknownRemoval?: (lease: Lease) => void,
  ) {}

  apply(result: LeaseWatchResult): LeaseEvent[] {
    return result.kind === 'snapshot' ? this.reset(result.snapshot) : this.update(result.events);
  }

  /** The peers currently known (our own lease excluded). */
  peers(): Lease[] {
    return this.known.all().filter((l) => !sameSubnet(l, this.ownLease));
  }

  update(events: LeaseEvent[]): LeaseEvent[] {
    const out: LeaseEvent[] = [];
    for (const event of events) {
      if (sameSubnet(event.lease, this.ownLease)) continue;
      const stored = this.known.find(event.lease);
      if (event.type === 'added') {
        if (stored) this.known.delete(stored);
        this.known.add(event.lease);
        out.push(event);
      } else if (stored) {
        // A store's delete carries only the subnet; the backend needs the attributes it programmed with.
        this.known.delete(stored);
        out.push({ type: 'removed', lease: stored });
      } else {
        this.onUnknownRemoval?.(event.lease);
        out.push(event);
      }
    }
    return out;
  }

  reset(snapshot: Lease[]): LeaseEvent[] {
    const steps = this.resetSteps(snapshot, Infinity);
    for (let step = steps.next(); ; step = steps.next()) if (step.done) return step.value;
  }

  /**
   * reset, `sliceSize` leases at a time, with `between()` (a turn of the event loop, say) after each slice:
   * 20,000 leases are ~50 ms in one piece. The watcher must not be used until the promise settles.
   */
  async resetInSlices(snapshot: Lease[], sliceSize: number, between: () => Promise<unknown>): Promise<LeaseEvent[]> {
    const steps = this.resetSteps(snapshot, sliceSize);
    for (let step = steps.next(); ; step = steps.next()) {
      if (step.done) return step.value;
      await between();
    }
  }

  /**
   * reset's work, pausing (a yield) after every `sliceSize` leases. The known leases are left as they were
   * until the last step, so a reset that never finishes changes nothing.
   */
  private *resetSteps(snapshot: Lease[], sliceSize: number): Generator<void, LeaseEvent[]> {
    const out: LeaseEvent[] = [];
    const old = this.known;
    const matched = new Set<Lease>();
    const next = new KnownLeases();
    for (let i = 0; i < snapshot.length; i++) {
      if (i > 0 && i % sliceSize === 0) yield;
      const lease = snapshot[i]!;
      next.add(lease);
      if (sameSubnet(lease, this.ownLease)) continue;
      const prev = old.find(lease);
      // A known lease answers one snapshot lease at most: a second with its subnet is new.
      if (!prev || matched.has(prev)) {
        out.push({ type: 'added', lease });
        continue;
      }
      matched.add(prev);
      if (!sameLease(prev, lease)) out.push({ type: 'added', lease });
    }
    for (const gone of old.all()) {
      if (!matched.has(gone) && !sameSubnet(gone, this.ownLease)) out.push({ type: 'removed', lease: gone });
    }
    this.known = next;
    return out;
  }
}

/**
 * The known leases, indexed by IPv4 and by IPv6 subnet so that a watch of thousands of peers stays
 * linear. `find` follows sameSubnet: it matches on the parts the incoming lease has.
 */
class KnownLeases {
  private readonly leases = new Set<Lease>();
  private readonly byV4 = new Map<string, Lease>();
  private readonly byV6 = new Map<string, Lease>();

  add(lease: Lease): void {
    this.leases.add(lease);
    if (lease.subnet) this.byV4.set(String(lease.subnet), lease);
    if (lease.ipv6Subnet) this.byV6.set(String(lease.ipv6Subnet), lease);
  }

  delete(lease: Lease): void {
    this.leases.delete(lease);
    if (lease.subnet && this.byV4.get(String(lease.subnet)) === lease) this.byV4.delete(String(lease.subnet));
    if (lease.ipv6Subnet && this.byV6.get(String(lease.ipv6Subnet)) === lease) this.byV6.delete(String(lease.ipv6Subnet));
  }

  find(incoming: Lease): Lease | undefined {
    const candidate = incoming.subnet ? this.byV4.get(String(incoming.subnet)) : incoming.ipv6Subnet ? this.byV6.get(String(incoming.ipv6Subnet)) : undefined;
    return candidate && sameSubnet(incoming, candidate) ? candidate : undefined;
  }

  all(): Lease[] {
    return [...this.leases];
  }
}

/**
 * Whether `incoming` names the same subnet as `known`, judged by the parts `incoming` has:
 * IPv4 only, IPv6 only, or both.
 */
export function sameSubnet(incoming: Lease, known: Lease): boolean {
  const v4 = incoming.subnet !== undefined;
  const v6 = incoming.ipv6Subnet !== undefined;
  if (v4 && v6) return incoming.subnet!.equals(known.subnet) && incoming.ipv6Subnet!.equals(known.ipv6Subnet);
  if (v6) return incoming.ipv6Subnet!.equals(known.ipv6Subnet);
  return incoming.subnet !== undefined && incoming.subnet.equals(known.subnet);
}

function sameLease(a: Lease, b: Lease): boolean {
  return String(a.subnet) === String(b.subnet) && String(a.ipv6Subnet) === String(b.ipv6Subnet) && sameLeaseAttrs(a.attrs, b.attrs);
}
