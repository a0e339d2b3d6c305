import type { Subscription } from 'rxjs';
import {
  applyBatched,
  logFailures,
  FLANNEL_ROUTE_PROTOCOL,
  ReconcileLoop,
  reconcileOnKernelChanges,
  toLeaseEvents,
  untilAborted,
  type Lease,
  type LeaseEvent,
  type Logger,
  type Network,
  type NetworkStats,
  type SubnetManager,
} from '@flannel-ts/core';
import { requests, type NetlinkEvent, type NetlinkHandle } from '@flannel-ts/core/netlink';
import { routeReconcileOps, toKernelRoute, type PeerRoute } from './route-diff.js';

/** Compare with the kernel this often (Go flannel re-adds missing routes every 10 s), and at once after a deletion. */
export const ROUTE_RESYNC_MS = 10_000;

/** A peer's route for one address family, or why the backend will not route to it. */
export type RouteDecision = PeerRoute | { skip: string };

export interface RouteNetworkOptions {
  /** Leases of other backend types are skipped with a warning. */
  backendType: string;
  lease: Lease;
  mtu: number;
  families: (4 | 6)[];
  subnetManager: SubnetManager;
  nl: NetlinkHandle;
  logger: Logger;
  /** The route to a peer's subnet of `family`; called for every Added lease of our type. */
  routeFor(lease: Lease, family: 4 | 6): Promise<RouteDecision>;
  /** Runs before each reconcile, e.g. to recreate a device someone deleted. */
  beforeReconcile?(reasons: string[]): Promise<void>;
  /** Link names whose deletion or going down should trigger a reconcile at once. */
  watchedLinks?: string[];
}

/**
 * flannel's RouteNetwork (host-gw, ipip): one route per peer subnet, with level-triggered repair instead
 * of Go's bare re-add loop. Routes carry proto 70; ours that no lease wants are removed, missing ones are
 * added within moments of netlink reporting their deletion, and every ROUTE_RESYNC_MS anyway.
 */
export class RouteNetwork implements Network {
  private readonly routes = new Map<string, PeerRoute>();
  private readonly skipped = new Map<string, string>();

  constructor(private readonly o: RouteNetworkOptions) {}

  get lease(): Lease {
    return this.o.lease;
  }

  get mtu(): number {
    return this.o.mtu;
  }

  stats(): NetworkStats {
    return { peers: this.routes.size, skippedPeers: this.skipped.size };
  }

  async run(signal: AbortSignal): Promise<void> {
    const { logger } = this.o;
    const loop = new ReconcileLoop((reasons) => this.reconcile(reasons), logger);
    const subs: Subscription[] = [
      this.o.subnetManager
        .watchLeases()
        .pipe(toLeaseEvents(this.o.lease))
        .subscribe((batch) => void loop.enqueue(() => this.applyEvents(batch))),
      reconcileOnKernelChanges(this.o.nl, loop, logger, { topics: ['link', 'route'], deletionsOnly: ['route'], relevance: (ev) => this.relevance(ev) }),
    ];
    loop.startPeriodic(ROUTE_RESYNC_MS);
    await untilAborted(signal);
    for (const s of subs) s.unsubscribe();
    await loop.stop();
  }

  private async applyEvents(batch: LeaseEvent[]): Promise<void> {
    const ops = [];
    for (const ev of batch) {
      if (ev.type === 'added' && ev.lease.attrs.backendType !== this.o.backendType) {
        this.o.logger.warn({ subnet: String(ev.lease.subnet), backendType: ev.lease.attrs.backendType ?? '' }, `skipping a peer lease of another backend type (we are ${this.o.backendType})`);
        continue;
      }
      for (const family of this.o.families) {
        const dst = family === 4 ? ev.lease.subnet : ev.lease.ipv6Subnet;
        if (!dst) continue;
        const key = String(dst);
        const prev = this.routes.get(key);
        if (ev.type === 'removed') {
          if (prev) ops.push(requests.routeDel(toKernelRoute(prev)));
          this.routes.delete(key);
          this.skipped.delete(key);
          continue;
        }
        const decision = await this.o.routeFor(ev.lease, family);
        if ('skip' in decision) {
          if (prev) ops.push(requests.routeDel(toKernelRoute(prev)));
          this.routes.delete(key);
          this.skipped.set(key, decision.skip);
          this.o.logger.warn({ subnet: key, publicIP: (family === 4 ? ev.lease.attrs.publicIP : ev.lease.attrs.publicIPv6)?.toString(), problem: decision.skip, skippedPeers: this.skipped.size }, 'skipping peer');
          continue;
        }
        this.skipped.delete(key);
        this.routes.set(key, decision);
        ops.push(requests.routeReplace(toKernelRoute(decision)));
      }
    }
    const results = await applyBatched(this.o.nl, ops);
    logFailures(ops, results, this.o.logger, 'applying lease events');
    this.o.logger.info({ events: batch.length, operations: ops.length, routes: this.routes.size, skippedPeers: this.skipped.size }, 'applied lease events');
  }

  private async reconcile(reasons: string[]): Promise<void> {
    await this.o.beforeReconcile?.(reasons);
    const kernel = (await Promise.all(this.o.families.map((f) => this.o.nl.routeList(f, { protocol: FLANNEL_ROUTE_PROTOCOL })))).flat();
    const ops = routeReconcileOps(this.routes.values(), kernel);
    if (ops.length === 0) return;
    this.o.logger.info({ operations: ops.length, reasons }, 'Route recovered: repairing routes');
    logFailures(ops, await applyBatched(this.o.nl, ops), this.o.logger, 'repairing routes');
  }

  private relevance(ev: NetlinkEvent): string | undefined {
    if (ev.topic === 'route' && ev.action === 'del' && ev.route.protocol === FLANNEL_ROUTE_PROTOCOL) return `route ${ev.route.dst} deleted`;
    if (ev.topic === 'link' && this.o.watchedLinks?.includes(ev.link.name) && (ev.action === 'del' || !ev.link.up)) return `${ev.link.name} ${ev.action === 'del' ? 'deleted' : 'down'}`;
    return undefined;
  }
}
