import type { IP, IPNet, JsonValue, Lease } from '@flannel-ts/core';
import type { GeneveConfig } from './config.js';

/** What one family of a peer's lease gives us: its pod subnet and where its geneve packets go. */
export interface GenevePeer {
  subnet: IPNet;
  publicIP: IP;
}

/** Our BackendData (and BackendV6Data): the settings a peer must share with us. */
export const backendData = (cfg: GeneveConfig): JsonValue => ({ VNI: cfg.vni, Port: cfg.port });

/**
 * Reads one family of a peer's lease, or says what is wrong with it. A lease is written by another node
 * (or by anyone who can write the store): nothing in it is trusted, and a problem is a sentence for the
 * log, never an exception.
 */
export function readPeer(lease: Lease, family: 4 | 6, cfg: GeneveConfig): GenevePeer | { problem: string } {
  const subnet = family === 4 ? lease.subnet : lease.ipv6Subnet;
  const publicIP = family === 4 ? lease.attrs.publicIP : lease.attrs.publicIPv6;
  const data = family === 4 ? lease.attrs.backendData : lease.attrs.backendV6Data;
  if (!subnet) return { problem: `no IPv${family} subnet` };
  if (lease.attrs.backendType !== 'geneve') return { problem: `BackendType is ${JSON.stringify(lease.attrs.backendType ?? '')}, not "geneve"` };
  if (!publicIP) return { problem: `no ${family === 4 ? 'PublicIP' : 'PublicIPv6'}` };
  if (typeof data !== 'object' || data === null || Array.isArray(data))
    return { problem: `${family === 4 ? 'BackendData' : 'BackendV6Data'} is not an object` };
  if (data.VNI !== cfg.vni) return { problem: `its VNI is ${JSON.stringify(data.VNI)}, ours is ${cfg.vni}` };
  if (data.Port !== cfg.port) return { problem: `its Port is ${JSON.stringify(data.Port)}, ours is ${cfg.port}` };
  return { subnet, publicIP };
}
