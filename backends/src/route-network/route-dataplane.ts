import {
  FLANNEL_ROUTE_PROTOCOL,
  routeEntry,
  type Dataplane,
  type DeviceCheck,
  type KernelEntry,
  type KernelWatch,
  type Lease,
  type Netlink,
  type PeerPlan,
} from '@flannel-ts/core';
import type { IP, IPNet } from '@flannel-ts/core';
import type { NetlinkEvent } from '@flannel-ts/core/netlink';

/** The route a route-network backend wants for one peer subnet: `<dst> via <gw> dev <link> [onlink] proto 70`. */
export interface PeerRoute {
  dst: IPNet;
  gw: IP;
  linkIndex: number;
  onlink: boolean;
}

/** A peer's route for one address family, or why the backend will not route to it. */
export type RouteDecision = PeerRoute | { skip: string };

export interface RouteDataplaneOptions {
  /** The lease BackendType this backend programs; leases of other types are refused with a reason. */
  backendType: string;
  families: (4 | 6)[];
  nl: Netlink;
  /** The route to a peer's subnet of `family`. Pure: no kernel lookups (see Dataplane.planPeer). */
  routeFor(lease: Lease, family: 4 | 6): RouteDecision;
  /** Makes the devices right and refreshes what routeFor reads; true when routeFor's answers may have changed. */
  ensureDevices?(reasons: readonly string[]): Promise<boolean | DeviceCheck>;
  /** Links whose deletion, or going down, calls for a resync at once. */
  watchedLinks: string[];
}

/**
 * flannel's RouteNetwork (host-gw, ipip) as a data plane for core's engine: one proto-70 route per peer
 * subnet. Go re-adds missing routes every 10 s; here a deleted route is back within moments, routes of
 * ours that no lease wants are removed, and a route that points elsewhere is replaced.
 */
export class RouteDataplane implements Dataplane {
  readonly watch: KernelWatch;

  constructor(private readonly o: RouteDataplaneOptions) {
    this.watch = { topics: ['link', 'route'], deletionsOnly: ['route'], classify: (ev) => this.classify(ev) };
  }

  planPeer(lease: Lease): PeerPlan {
    if (lease.attrs.backendType !== this.o.backendType) {
      return { entries: [], problems: [`its BackendType is ${JSON.stringify(lease.attrs.backendType ?? '')}, not ${JSON.stringify(this.o.backendType)}`] };
    }
    const plan: PeerPlan = { entries: [], problems: [] };
    for (const family of this.o.families) {
      if (!(family === 4 ? lease.subnet : lease.ipv6Subnet)) continue;
      const decision = this.o.routeFor(lease, family);
      if ('skip' in decision) plan.problems.push(decision.skip);
      else plan.entries.push(routeEntry(decision));
    }
    return plan;
  }

  async readKernel(): Promise<KernelEntry[]> {
    const routes = await Promise.all(this.o.families.map((f) => this.o.nl.routeList(f, { protocol: FLANNEL_ROUTE_PROTOCOL })));
    return routes.flat().map(routeEntry);
  }

  ensureDevices(reasons: readonly string[]): Promise<boolean | DeviceCheck> {
    return this.o.ensureDevices?.(reasons) ?? Promise.resolve(false);
  }

  private classify(ev: NetlinkEvent): { deleted: string } | { resync: string } | undefined {
    if (ev.topic === 'route' && ev.action === 'del' && ev.route.protocol === FLANNEL_ROUTE_PROTOCOL) return { deleted: routeEntry(ev.route).key };
    if (ev.topic === 'link' && this.o.watchedLinks.includes(ev.link.name) && (ev.action === 'del' || !ev.link.up)) {
      return { resync: `${ev.link.name} ${ev.action === 'del' ? 'deleted' : 'down'}` };
    }
    return undefined;
  }
}
