import type { NetworkConfig } from '../contracts/network-config.js';
import type { IP } from '../ip/ip.js';
import { IPNet } from '../ip/ipnet.js';

/** Go flannel collects at most this many free subnets and picks one of them at random. */
export const MAX_CANDIDATES = 100;

/** Whether a lease's subnets fit the current config: inside SubnetMin..SubnetMax with the right length. */
export function isCompatible(config: NetworkConfig, subnet: IPNet | undefined, ipv6Subnet: IPNet | undefined): boolean {
  if (config.enableIPv4) {
    if (!subnet || !inRange(subnet, config.subnetLen, config.subnetMin, config.subnetMax)) return false;
  }
  if (!config.enableIPv6) return ipv6Subnet === undefined;
  return ipv6Subnet !== undefined && inRange(ipv6Subnet, config.ipv6SubnetLen, config.ipv6SubnetMin, config.ipv6SubnetMax);
}

function inRange(sn: IPNet, len: number, min: IP | undefined, max: IP | undefined): boolean {
  if (!min || !max || sn.prefixLen !== len || sn.family !== min.family) return false;
  return sn.ip.compare(min) >= 0 && sn.ip.compare(max) <= 0;
}

/**
 * Free subnets from `min` upwards, skipping any that overlap a taken one, at most MAX_CANDIDATES.
 * `taken` must be the subnets of every key in the store, reservations and unreadable values included.
 */
export function freeSubnets(min: IP, max: IP, len: number, taken: readonly IPNet[]): IPNet[] {
  const sorted = [...taken].sort((a, b) => a.ip.compare(b.ip));
  const out: IPNet[] = [];
  let t = 0;
  for (let sn = new IPNet(min, len); sn.ip.compare(max) <= 0 && out.length < MAX_CANDIDATES; sn = sn.next()) {
    // Subnets that end before this one cannot touch it or any later one.
    while (t < sorted.length && sorted[t]!.end <= sn.ip.value) t++;
    let free = true;
    for (let j = t; j < sorted.length && sorted[j]!.ip.value < sn.end; j++) {
      if (sorted[j]!.end > sn.ip.value) free = false;
    }
    if (free) out.push(sn);
  }
  return out;
}

export function pickRandom<T>(items: readonly T[], random: () => number): T | undefined {
  return items.length ? items[Math.floor(random() * items.length)] : undefined;
}
