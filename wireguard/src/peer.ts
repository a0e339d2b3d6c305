import { foldKeys, IPNet, type IP, type JsonValue, type Lease } from '@flannel-ts/core';
import { wgKeyFromBase64, wgKeyToBase64 } from '@flannel-ts/core/netlink';

/** What a wireguard node publishes per family in BackendData / BackendV6Data (Go flannel's shape). */
export type WireguardLeaseData = {
  PublicKey: string;
  /** The port it listens on for this family; 0 or absent in leases of older Go flannel. */
  Port: number;
};

/** One family's BackendData of a peer, read as untrusted input. */
export interface PeerData {
  publicKey: Buffer;
  /** Absent when the lease names none (older peers): then our own listen port is used, as Go flannel does. */
  port?: number;
}

/** Reads a BackendData object, or says what is wrong with it. */
export function readPeerData(data: JsonValue | undefined, which: string): PeerData | { problem: string } {
  if (typeof data !== 'object' || data === null || Array.isArray(data)) return { problem: `${which} is not an object` };
  const f = foldKeys(data as Record<string, unknown>, ['PublicKey', 'Port'] as const);
  if (typeof f.PublicKey !== 'string') return { problem: `${which}.PublicKey is missing` };
  let publicKey: Buffer;
  try {
    publicKey = wgKeyFromBase64(f.PublicKey);
  } catch {
    return { problem: `${which}.PublicKey ${JSON.stringify(f.PublicKey.slice(0, 60))} is not a WireGuard public key` };
  }
  if (f.Port === undefined || f.Port === null || f.Port === 0) return { publicKey };
  if (typeof f.Port !== 'number' || !Number.isInteger(f.Port) || f.Port < 1 || f.Port > 65535) {
    return { problem: `${which}.Port ${JSON.stringify(f.Port)} is not a port number` };
  }
  return { publicKey, port: f.Port };
}

export const leaseData = (publicKey: Buffer, port: number): WireguardLeaseData => ({ PublicKey: wgKeyToBase64(publicKey), Port: port });

// Go flannel's IsPrivate: RFC 1918 for IPv4, unique local addresses (fc00::/7) for IPv6.
const PRIVATE = ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', 'fc00::/7'].map((n) => IPNet.parse(n));
export const isPrivate = (ip: IP) => PRIVATE.some((n) => n.family === ip.family && n.contains(ip));

/**
 * Which of a dual-stack peer's addresses `auto` mode reaches it at, as Go flannel chooses: IPv4 if that is
 * all it has or if its IPv4 address is public and we have IPv4; else IPv6 if its address and ours are
 * public IPv6 ones; else IPv4.
 */
export function autoEndpointFamily(peer: { v4?: IP | undefined; v6?: IP | undefined }, ours: { v4?: IP | undefined; v6?: IP | undefined }): 4 | 6 {
  if (!peer.v6) return 4;
  if (!peer.v4) return 6;
  if (!isPrivate(peer.v4) && ours.v4) return 4;
  if (!isPrivate(peer.v6) && ours.v6 && !isPrivate(ours.v6)) return 6;
  return 4;
}

/** The lease's subnets of the given families. */
export function leaseSubnets(lease: Lease, families: readonly (4 | 6)[]): IPNet[] {
  const out: IPNet[] = [];
  if (families.includes(4) && lease.subnet) out.push(lease.subnet);
  if (families.includes(6) && lease.ipv6Subnet) out.push(lease.ipv6Subnet);
  return out;
}
