import { IP } from '../ip/ip.js';
import { IPNet } from '../ip/ipnet.js';

/**
 * The subnet key names a lease in the store: `10.5.52.0-24`, or dual stack `10.5.52.0-24&fd00:12:13::-56`.
 * It is also the etcd key suffix under `<prefix>/subnets/`, so it must match Go flannel byte for byte.
 *
 * Differences from Go flannel, on purpose: the key is anchored at both ends (Go anchors only the end), an IPv4
 * `/32` and an IPv6 `/128` are accepted (Go's parser reads the prefix length with 5 and 7 bits and rejects them), and a key whose
 * address has host bits set is rejected instead of being taken as an unaligned subnet.
 */
export interface SubnetKey {
  subnet: IPNet;
  ipv6Subnet?: IPNet;
}

const KEY_RE = /^(\d+\.\d+\.\d+\.\d+)-(\d+)(?:&([a-f\d:]+)-(\d+))?$/;

export function makeSubnetKey(subnet: IPNet, ipv6Subnet?: IPNet): string {
  const v4 = `${subnet.ip.toString()}-${subnet.prefixLen}`;
  return ipv6Subnet ? `${v4}&${ipv6Subnet.ip.toString()}-${ipv6Subnet.prefixLen}` : v4;
}

/** Returns the parsed key, or a reason it is not one. */
export function parseSubnetKey(key: string): SubnetKey | { error: string } {
  const m = KEY_RE.exec(key);
  if (!m) return { error: 'not of the form <ipv4>-<len>[&<ipv6>-<len>]' };
  const subnet = parsePart(m[1]!, m[2]!, 4);
  if (typeof subnet === 'string') return { error: subnet };
  if (m[3] === undefined) return { subnet };
  const ipv6Subnet = parsePart(m[3], m[4]!, 6);
  if (typeof ipv6Subnet === 'string') return { error: ipv6Subnet };
  return { subnet, ipv6Subnet };
}

export function isSubnetKey(parsed: SubnetKey | { error: string }): parsed is SubnetKey {
  return !('error' in parsed);
}

function parsePart(ipText: string, lenText: string, family: 4 | 6): IPNet | string {
  const ip = IP.tryParse(ipText);
  if (!ip || ip.family !== family) return `invalid IPv${family} address ${JSON.stringify(ipText)}`;
  const len = Number(lenText);
  if (!/^\d{1,3}$/.test(lenText) || len > ip.bits) return `invalid IPv${family} prefix length /${lenText}`;
  const net = new IPNet(ip, len);
  if (!net.ip.equals(ip)) return `${ipText}/${len} has host bits set`;
  return net;
}
