// Peer leases → the proxy's table. The udp backend's data plane is not kernel entries, so it follows the
// lease stream itself, with the engine's rules: a snapshot replaces everything known, an added lease
// replaces the one of its subnet, a removed one goes, an empty batch removes nothing, and our own lease is
// never a peer. A lease is checked before it can steer traffic, as core's engine checks every backend's.
import type { Lease, LeaseWatchResult, NetworkConfig, PeerStatus } from '@flannel-ts/core';
import type { PeerTableOp } from './peer-table.js';

interface Peer {
  lease: Lease;
  /** Why it is not in the table; empty when it is. */
  problems: string[];
}

export interface PeerChanges {
  ops: PeerTableOp[];
  added: number;
  removed: number;
  /** Peers left out by this change, with the reason, for a warning each. */
  skipped: Peer[];
}

const keyOf = (lease: Lease) => `${lease.subnet ?? '-'} ${lease.ipv6Subnet ?? '-'}`;

export class UdpPeers {
  private readonly peers = new Map<string, Peer>();
  private snapshotSeen = false;

  constructor(
    private readonly own: Lease,
    private readonly config: NetworkConfig,
    /** Go's proxy sends to every peer on our own configured port. */
    private readonly port: number,
  ) {}

  /** Whether the first full listing has been applied. */
  get synced(): boolean {
    return this.snapshotSeen;
  }

  apply(result: LeaseWatchResult): PeerChanges {
    const out: PeerChanges = { ops: [], added: 0, removed: 0, skipped: [] };
    if (result.kind === 'snapshot') {
      this.snapshotSeen = true;
      const before = new Map(this.peers);
      this.peers.clear();
      out.ops.push({ op: 'clear' });
      for (const lease of result.snapshot) {
        if (this.isOwn(lease)) continue;
        const key = keyOf(lease);
        const prev = before.get(key);
        before.delete(key);
        if (!prev) out.added++;
        this.put(key, lease, out, prev);
      }
      out.removed += before.size;
      return out;
    }
    for (const ev of result.events) {
      if (this.isOwn(ev.lease)) continue;
      const key = keyOf(ev.lease);
      const prev = this.peers.get(key);
      if (ev.type === 'added') {
        out.added++;
        this.put(key, ev.lease, out, prev);
      } else if (prev) {
        out.removed++;
        this.peers.delete(key);
        if (prev.problems.length === 0) out.ops.push({ op: 'del', net: Number(prev.lease.subnet!.ip.value), len: prev.lease.subnet!.prefixLen });
      }
    }
    return out;
  }

  stats(): { peers: number; skippedPeers: number } {
    let peers = 0;
    for (const p of this.peers.values()) if (p.problems.length === 0) peers++;
    return { peers, skippedPeers: this.peers.size - peers };
  }

  status(): PeerStatus[] {
    return [...this.peers.values()].map(({ lease, problems }) => ({
      ...(lease.subnet ? { subnet: String(lease.subnet) } : {}),
      ...(lease.ipv6Subnet ? { ipv6Subnet: String(lease.ipv6Subnet) } : {}),
      ...(lease.attrs.publicIP ? { publicIP: String(lease.attrs.publicIP) } : {}),
      ...(lease.attrs.backendType !== undefined ? { backendType: lease.attrs.backendType } : {}),
      state: problems.length === 0 ? 'programmed' : 'skipped',
      problems: [...problems],
      entries: problems.length === 0 ? 1 : 0,
    }));
  }

  /** Records the lease; a table entry for it when it passes the checks, else the removal of the one it had. */
  private put(key: string, lease: Lease, out: PeerChanges, prev: Peer | undefined): void {
    const problems = this.check(lease);
    this.peers.set(key, { lease, problems });
    if (problems.length === 0) {
      out.ops.push({ op: 'set', net: Number(lease.subnet!.ip.value), len: lease.subnet!.prefixLen, ip: Number(lease.attrs.publicIP!.value), port: this.port });
      return;
    }
    if (prev && prev.problems.length === 0) out.ops.push({ op: 'del', net: Number(prev.lease.subnet!.ip.value), len: prev.lease.subnet!.prefixLen });
    if (!prev || prev.problems.join() !== problems.join()) out.skipped.push({ lease, problems });
  }

  /** Why this lease must not be in the table; empty when it may. */
  private check(lease: Lease): string[] {
    const { subnet } = lease;
    const { publicIP, backendType } = lease.attrs;
    if (!subnet) return ['it has no IPv4 subnet (the udp backend carries IPv4 only)'];
    const problems: string[] = [];
    // Go's udp backend writes no BackendType; ours writes "udp". Anything else is another backend's node.
    if (backendType !== undefined && backendType !== 'udp')
      problems.push(`BackendType is ${JSON.stringify(backendType)}, not "udp" (or none, as Go flannel's udp writes)`);
    if (!publicIP) problems.push('it has no PublicIP');
    else if (publicIP.equals(this.own.attrs.publicIP)) problems.push(`it claims our PublicIP ${publicIP}`);
    const network = this.config.network;
    if (network && (!network.contains(subnet.ip) || subnet.prefixLen < network.prefixLen)) problems.push(`${subnet} is outside the network ${network}`);
    else if (this.config.subnetLen && subnet.prefixLen !== this.config.subnetLen)
      problems.push(`${subnet} is a /${subnet.prefixLen}, but node subnets are /${this.config.subnetLen}`);
    if (this.own.subnet?.overlaps(subnet)) problems.push(`${subnet} overlaps our own subnet ${this.own.subnet}`);
    return problems;
  }

  private isOwn(lease: Lease): boolean {
    return lease.subnet !== undefined && lease.subnet.equals(this.own.subnet);
  }
}
