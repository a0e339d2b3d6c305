import { type IP, MAC, type IPNet, type Lease } from '@flannel-ts/core';

/** A remote node as the vxlan backend programs it. */
export interface VxlanPeer {
  subnet: IPNet;
  publicIP: IP;
  vtepMAC: MAC;
}

/**
 * Reads a peer's lease for one address family, or says what is wrong with it. Old flannel wrote
 * BackendData as `{"VtepMAC":…}` without VNI; that is accepted.
 */
export function readPeer(lease: Lease, family: 4 | 6): VxlanPeer | { problem: string } {
  const subnet = family === 4 ? lease.subnet : lease.ipv6Subnet;
  const publicIP = family === 4 ? lease.attrs.publicIP : lease.attrs.publicIPv6;
  const data = family === 4 ? lease.attrs.backendData : lease.attrs.backendV6Data;
  if (!subnet) return { problem: `no IPv${family} subnet` };
  if (lease.attrs.backendType !== 'vxlan') return { problem: `BackendType is ${JSON.stringify(lease.attrs.backendType ?? '')}, not "vxlan"` };
  if (!publicIP) return { problem: `no IPv${family} PublicIP` };
  if (typeof data !== 'object' || data === null || Array.isArray(data)) return { problem: 'BackendData is not an object' };
  const macText = vtepMACOf(data as Record<string, unknown>);
  const vtepMAC = typeof macText === 'string' ? MAC.tryParse(macText) : undefined;
  if (!vtepMAC) return { problem: `BackendData.VtepMAC ${JSON.stringify(macText)} is not a MAC address` };
  // An all-zero or multicast FDB entry would flood every peer's traffic to this one.
  if (!vtepMAC.isUnicast()) return { problem: `BackendData.VtepMAC ${vtepMAC} is not a unicast MAC address` };
  return { subnet, publicIP, vtepMAC };
}

/** BackendData's VtepMAC, whatever the case of its name (the first such key); a loop, not Object.entries' array of pairs. */
function vtepMACOf(data: Record<string, unknown>): unknown {
  for (const k in data) if (Object.hasOwn(data, k) && k.toLowerCase() === 'vtepmac') return data[k];
  return undefined;
}
