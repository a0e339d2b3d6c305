import type { Netlink } from '../contracts/netlink.js';
import type { IP } from '../ip/ip.js';
import type { IPNet } from '../ip/ipnet.js';
import { RT_TABLE_MAIN, RTN_UNICAST } from './nl/constants.js';

interface ConnectedNet {
  net: IPNet;
  linkIndex: number;
}

/**
 * The networks this host reaches without a router: the main table's routes with no gateway (an
 * interface's subnet). host-gw and DirectRouting ask, for each peer, whether its address is in one of
 * them; reading them once per resync replaces an `ip route get` per lease.
 */
export class ConnectedNets {
  private nets: ConnectedNet[] = [];
  private signature = '';

  /** Re-reads the routes; true when the answer changed. */
  async refresh(nl: Netlink, families: readonly (4 | 6)[]): Promise<boolean> {
    const routes = (await Promise.all(families.map((f) => nl.routeList(f, { table: RT_TABLE_MAIN })))).flat();
    const nets: ConnectedNet[] = [];
    for (const r of routes) {
      if (r.gw || r.nhid !== undefined || !r.dst || r.linkIndex === undefined || (r.type !== undefined && r.type !== RTN_UNICAST)) continue;
      if (r.dst.prefixLen === 0) continue;
      nets.push({ net: r.dst, linkIndex: r.linkIndex });
    }
    // Longest prefix first, so the first match is the kernel's choice among connected routes.
    nets.sort((a, b) => b.net.prefixLen - a.net.prefixLen);
    const signature = nets.map((n) => `${n.net}@${n.linkIndex}`).join(',');
    const changed = signature !== this.signature;
    this.nets = nets;
    this.signature = signature;
    return changed;
  }

  /** The link through which `ip` is directly reachable, if any. */
  linkFor(ip: IP): number | undefined {
    return this.nets.find((n) => n.net.contains(ip))?.linkIndex;
  }
}
