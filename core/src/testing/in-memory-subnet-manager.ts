import { concat, defer, of, Subject, type Observable } from 'rxjs';
import type { Lease, LeaseAttrs, LeaseWatchResult } from '../contracts/lease.js';
import type { NetworkConfig } from '../contracts/network-config.js';
import type { Clock } from '../contracts/clock.js';
import { systemClock } from '../util/system-clock.js';
import type { SubnetManager } from '../contracts/subnet-manager.js';
import { IPNet } from '../ip/ipnet.js';

const DAY_MS = 24 * 3600 * 1000;

/**
 * A subnet manager that keeps leases in memory, for unit tests of backends and of the daemon.
 * It hands out the first free IPv4 subnet, reuses the lease that carries the same PublicIP, and streams
 * a snapshot followed by changes. Tests add and remove peers with `putLease` and `deleteLease`.
 */
export class InMemorySubnetManager implements SubnetManager {
  readonly name = 'In-memory subnet manager';
  private readonly leases = new Map<string, Lease>();
  private readonly changes = new Subject<LeaseWatchResult>();

  constructor(
    private readonly config: NetworkConfig,
    private readonly clock: Clock = systemClock,
  ) {}

  async getNetworkConfig(): Promise<NetworkConfig> {
    return this.config;
  }

  /** The lease that carries our PublicIP, as a store would reuse it. */
  async lookupLease(attrs: LeaseAttrs): Promise<Lease | undefined> {
    return [...this.leases.values()].find((l) => attrs.publicIP && attrs.publicIP.equals(l.attrs.publicIP));
  }

  async acquireLease(attrs: LeaseAttrs): Promise<Lease> {
    const mine = await this.lookupLease(attrs);
    const subnet = mine?.subnet ?? this.firstFree();
    // Dual stack: an IPv6 subnet too (kept across a re-acquire, like the IPv4 one).
    const ipv6Subnet = this.config.enableIPv6 ? (mine?.ipv6Subnet ?? this.firstFreeV6()) : undefined;
    return this.putLease({ subnet, ...(ipv6Subnet ? { ipv6Subnet } : {}), attrs, expiration: new Date(this.clock.now().getTime() + DAY_MS) });
  }

  async renewLease(lease: Lease): Promise<Lease> {
    return this.putLease({ ...lease, expiration: new Date(this.clock.now().getTime() + DAY_MS) });
  }

  watchLeases(): Observable<LeaseWatchResult> {
    return defer(() => concat(of<LeaseWatchResult>({ kind: 'snapshot', snapshot: [...this.leases.values()] }), this.changes));
  }

  completeLease(_lease: Lease, signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      if (signal.aborted) resolve();
      else signal.addEventListener('abort', () => resolve(), { once: true });
    });
  }

  putLease(lease: Lease): Lease {
    this.leases.set(String(lease.subnet), lease);
    this.changes.next({ kind: 'events', events: [{ type: 'added', lease }] });
    return lease;
  }

  deleteLease(subnet: IPNet): void {
    if (!this.leases.delete(String(subnet))) return;
    // Like an etcd delete: the event names the subnet only.
    this.changes.next({ kind: 'events', events: [{ type: 'removed', lease: { subnet, attrs: {} } }] });
  }

  list(): Lease[] {
    return [...this.leases.values()];
  }

  private firstFree(): IPNet {
    const { network, subnetLen, subnetMin, subnetMax } = this.config;
    if (!network || !subnetMin || !subnetMax) throw new Error('InMemorySubnetManager needs a validated IPv4 config');
    for (let sn = new IPNet(subnetMin, subnetLen); sn.ip.compare(subnetMax) <= 0; sn = sn.next()) {
      if (!this.leases.has(String(sn))) return sn;
    }
    throw new Error('out of subnets');
  }

  private firstFreeV6(): IPNet {
    const { ipv6Network, ipv6SubnetLen, ipv6SubnetMin, ipv6SubnetMax } = this.config;
    if (!ipv6Network || !ipv6SubnetMin || !ipv6SubnetMax) throw new Error('InMemorySubnetManager needs a validated IPv6 config');
    const used = new Set([...this.leases.values()].map((l) => String(l.ipv6Subnet)));
    for (let sn = new IPNet(ipv6SubnetMin, ipv6SubnetLen); sn.ip.compare(ipv6SubnetMax) <= 0; sn = sn.next()) {
      if (!used.has(String(sn))) return sn;
    }
    throw new Error('out of IPv6 subnets');
  }
}
