import type { Lease } from '../contracts/lease.js';
import type { NetworkConfig } from '../contracts/network-config.js';
import { IPNet } from '../ip/ipnet.js';

/**
 * What a peer's lease may claim. Leases are written by other nodes, or by anyone who can write the store,
 * so none is trusted: a lease that could reroute traffic that is not its own is refused, whichever backend
 * runs. A peer subnet must lie inside the cluster network, be exactly one node subnet long (or a single
 * host address inside the network), not overlap our subnet or another accepted peer's, and not claim our
 * public address. Each refusal names the rule.
 */
export class PeerGuard {
  /** Accepted subnets, by text, and how many accepted single-host subnets lie inside each node subnet. */
  private readonly taken = new Map<string, string>();
  private readonly hostsIn = new Map<string, number>();

  constructor(
    private readonly config: NetworkConfig | undefined,
    private readonly own: Lease,
  ) {}

  /** Why `lease` (of peer `key`) must not be programmed; empty when it may. */
  check(key: string, lease: Lease): string[] {
    const problems: string[] = [];
    for (const family of [4, 6] as const) {
      const subnet = family === 4 ? lease.subnet : lease.ipv6Subnet;
      if (!subnet) continue;
      const problem = this.checkSubnet(key, subnet, family);
      if (problem) problems.push(problem);
    }
    const ip = lease.attrs.publicIP;
    if (ip && ip.equals(this.own.attrs.publicIP)) problems.push(`it claims our PublicIP ${ip}`);
    const ip6 = lease.attrs.publicIPv6;
    if (ip6 && ip6.equals(this.own.attrs.publicIPv6)) problems.push(`it claims our PublicIPv6 ${ip6}`);
    return problems;
  }

  accept(key: string, lease: Lease): void {
    for (const subnet of subnets(lease)) {
      this.taken.set(String(subnet), key);
      const parent = this.parentOf(subnet);
      if (parent) this.hostsIn.set(parent, (this.hostsIn.get(parent) ?? 0) + 1);
    }
  }

  release(key: string, lease: Lease): void {
    for (const subnet of subnets(lease)) {
      if (this.taken.get(String(subnet)) !== key) continue;
      this.taken.delete(String(subnet));
      const parent = this.parentOf(subnet);
      if (!parent) continue;
      const n = (this.hostsIn.get(parent) ?? 1) - 1;
      if (n > 0) this.hostsIn.set(parent, n);
      else this.hostsIn.delete(parent);
    }
  }

  private checkSubnet(key: string, subnet: IPNet, family: 4 | 6): string | undefined {
    const host = subnet.prefixLen === subnet.ip.bits;
    if (this.config) {
      const network = family === 4 ? this.config.network : this.config.ipv6Network;
      const len = family === 4 ? this.config.subnetLen : this.config.ipv6SubnetLen;
      if (!network || !len) return undefined; // a family we do not run: the data plane ignores it
      if (!network.contains(subnet.ip) || subnet.prefixLen < network.prefixLen) return `${subnet} is outside the network ${network}`;
      if (subnet.prefixLen !== len && !host) return `${subnet} is a /${subnet.prefixLen}, but node subnets are /${len}`;
    }
    const ours = family === 4 ? this.own.subnet : this.own.ipv6Subnet;
    if (ours?.overlaps(subnet)) return `${subnet} overlaps our own subnet ${ours}`;
    const holder = this.taken.get(String(subnet));
    if (holder !== undefined && holder !== key) return `${subnet} is already the subnet of peer ${holder}`;
    const parent = host ? this.parentOf(subnet) : undefined;
    if (parent && this.taken.has(parent)) return `${subnet} lies inside the subnet ${parent} of peer ${this.taken.get(parent)}`;
    if (!host && (this.hostsIn.get(String(subnet)) ?? 0) > 0) return `${subnet} contains a host subnet another peer holds`;
    return undefined;
  }

  /** The node subnet a single-host subnet lies in, when node subnets are known. */
  private parentOf(subnet: IPNet): string | undefined {
    if (subnet.prefixLen !== subnet.ip.bits) return undefined;
    const len = subnet.family === 4 ? this.config?.subnetLen : this.config?.ipv6SubnetLen;
    return len ? String(new IPNet(subnet.ip, len)) : undefined;
  }
}

function subnets(lease: Lease): IPNet[] {
  return [lease.subnet, lease.ipv6Subnet].filter((s): s is IPNet => s !== undefined);
}
