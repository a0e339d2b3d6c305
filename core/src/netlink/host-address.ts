import type { IP } from '../ip/ip.js';
import type { Addr } from './addr.js';
import type { Netlink } from '../contracts/netlink.js';
import { IFA_F_NODAD } from './nl/constants.js';

/**
 * Makes `ip` a host address (/32, /128) of the link, as flannel puts the lease's network address on its
 * device, and removes the other addresses `isStale` picks (those of an earlier lease). An IPv6 address is
 * added without DAD: an overlay device has no neighbour to collide with, and a tentative address would
 * refuse traffic for its first second.
 */
export async function setHostAddress(nl: Netlink, linkIndex: number, ip: IP, isStale: (a: Addr) => boolean): Promise<void> {
  const bits = ip.bits;
  let present = false;
  for (const a of await nl.addrList(ip.family, linkIndex)) {
    if (a.ip.equals(ip) && a.prefixLen === bits) present = true;
    else if (isStale(a)) await nl.addrDel(a);
  }
  if (!present) await nl.addrAdd({ linkIndex, ip, prefixLen: bits, ...(ip.family === 6 ? { flags: IFA_F_NODAD } : {}) });
}

/**
 * The link through which `ip` is directly reachable (the kernel's route to it has no gateway), or
 * undefined when it is behind a router or unroutable. DirectRouting and host-gw ask this of each peer.
 */
export async function onLinkDevice(nl: Netlink, ip: IP): Promise<number | undefined> {
  const route = await nl.routeGet(ip).catch(() => undefined);
  return route && route.gw === undefined ? route.linkIndex : undefined;
}
