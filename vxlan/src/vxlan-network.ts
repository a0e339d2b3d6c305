import type { Subscription } from 'rxjs';
import {
  applyBatched,
  logFailures,
  FLANNEL_ROUTE_PROTOCOL,
  IPNet,
  ReconcileLoop,
  reconcileOnKernelChanges,
  toLeaseEvents,
  untilAborted,
  type Lease,
  type LeaseEvent,
  type Logger,
  type Network,
  type NetworkStats,
  type NetworkConfig,
  type SubnetManager,
} from '@flannel-ts/core';
import { onLinkDevice, setHostAddress, type Addr, type Link, type NetlinkEvent, type NetlinkHandle, type NetlinkRequest } from '@flannel-ts/core/netlink';
import { ensureVxlanDevice, type VxlanDeviceSpec } from './device.js';
import { addOps, readKernelState, reconcileOps, removeOps, type PeerTarget } from './kernel-state.js';
import { readPeer, type VxlanPeer } from './peer.js';

/** Full comparison with the kernel this often, on top of the immediate one after netlink reports a change. */
export const RESYNC_MS = 10_000;

/** One address family's device and the peers programmed on it. */
export interface VxlanFamily extends PeerTarget {
  family: 4 | 6;
  spec: VxlanDeviceSpec;
  peers: Map<string, VxlanPeer>;
}

export interface VxlanNetworkDeps {
  nl: NetlinkHandle;
  subnetManager: SubnetManager;
  logger: Logger;
  config: NetworkConfig;
  directRouting: boolean;
}

/**
 * Keeps every peer's neigh, FDB entry and route in the kernel. Lease events apply at once; a level-triggered
 * reconcile (periodic, and right after netlink reports our device, routes or entries changed) repairs
 * anything missing or stale, and recreates a deleted device with every peer replayed (fix of quirk 7).
 */
export class VxlanNetwork implements Network {
  /** Subnets whose leases were skipped as malformed, for status. */
  private readonly skipped = new Set<string>();

  constructor(
    readonly lease: Lease,
    readonly mtu: number,
    private readonly families: VxlanFamily[],
    private readonly deps: VxlanNetworkDeps,
  ) {}

  stats(): NetworkStats {
    return { peers: this.families[0]?.peers.size ?? 0, skippedPeers: this.skipped.size };
  }

  async run(signal: AbortSignal): Promise<void> {
    const { logger } = this.deps;
    const loop = new ReconcileLoop((reasons) => this.reconcile(reasons), logger);
    const subs: Subscription[] = [];
    subs.push(
      this.deps.subnetManager
        .watchLeases()
        .pipe(toLeaseEvents(this.lease, (l) => logger.info({ subnet: String(l.subnet) }, 'removed subnet was not known')))
        .subscribe({
          next: (batch) => void loop.enqueue(() => this.applyEvents(batch, loop)),
          error: (err: Error) => logger.error({ err: err.message }, 'lease watch failed'),
        }),
    );
    subs.push(
      reconcileOnKernelChanges(this.deps.nl, loop, logger, {
        topics: ['link', 'route', 'neigh'],
        deletionsOnly: ['route', 'neigh'],
        relevance: (ev) => this.relevance(ev),
      }),
    );
    loop.startPeriodic(RESYNC_MS);
    await untilAborted(signal);
    for (const s of subs) s.unsubscribe();
    await loop.stop();
  }

  private async applyEvents(batch: LeaseEvent[], loop: ReconcileLoop): Promise<void> {
    const started = performance.now();
    for (const fam of this.families) {
      const ops: NetlinkRequest[] = [];
      for (const ev of batch) {
        const subnet = fam.family === 4 ? ev.lease.subnet : ev.lease.ipv6Subnet;
        if (!subnet) continue;
        const key = String(subnet);
        const prev = fam.peers.get(key);
        if (ev.type === 'removed') {
          if (prev) ops.push(...removeOps(fam, prev));
          fam.peers.delete(key);
          this.skipped.delete(key);
          this.deps.logger.debug({ subnet: key }, 'peer removed');
          continue;
        }
        const read = readPeer(ev.lease, fam.family);
        if ('problem' in read) {
          this.skipped.add(key);
          this.deps.logger.warn({ subnet: key, publicIP: ev.lease.attrs.publicIP?.toString(), problem: read.problem }, 'skipping peer lease');
          continue;
        }
        this.skipped.delete(key);
        const peer: VxlanPeer = { ...read, direct: await this.isDirect(read.publicIP) };
        if (prev && !samePeer(prev, peer)) ops.push(...removeOps(fam, prev));
        fam.peers.set(key, peer);
        ops.push(...addOps(fam, peer));
        // Objects, not strings: pino serializes them only when debug is on (5,000 peers, 5,000 lines).
        this.deps.logger.debug({ subnet: key, publicIP: peer.publicIP, vtepMAC: peer.vtepMAC, direct: peer.direct }, 'peer added');
      }
      const applyStarted = performance.now();
      const results = await applyBatched(this.deps.nl, ops);
      if (logFailures(ops, results, this.deps.logger, 'applying lease events') > 0) loop.trigger('retry after failed updates', 1000);
      const now = performance.now();
      this.deps.logger.info(
        { device: fam.spec.name, events: batch.length, operations: ops.length, peers: fam.peers.size, ms: Math.round(now - started), netlinkMs: Math.round(now - applyStarted) },
        'applied lease events',
      );
    }
  }

  private async reconcile(reasons: string[]): Promise<void> {
    for (const fam of this.families) {
      const dev = await this.deps.nl.linkByName(fam.spec.name);
      if (!dev || dev.kind !== 'vxlan' || !dev.up) {
        this.deps.logger.warn({ device: fam.spec.name, peers: fam.peers.size, reasons }, 'vxlan device is missing or down; recreating it and replaying every peer');
        fam.dev = await setupDevice(this.deps.nl, fam, this.lease, this.deps.config, this.deps.logger);
      } else {
        fam.dev = dev;
        await configureAddress(this.deps.nl, fam, this.lease, this.deps.config);
      }
      const kernel = await readKernelState(this.deps.nl, fam, fam.family);
      const ops = reconcileOps(fam, fam.peers.values(), kernel);
      if (ops.length === 0) {
        this.deps.logger.debug({ device: fam.spec.name, peers: fam.peers.size, reasons }, 'kernel state matches');
        continue;
      }
      this.deps.logger.info({ device: fam.spec.name, operations: ops.length, reasons }, 'repairing kernel state');
      logFailures(ops, await applyBatched(this.deps.nl, ops), this.deps.logger, 'reconciling');
    }
  }

  private async isDirect(publicIP: VxlanPeer['publicIP']): Promise<boolean> {
    if (!this.deps.directRouting) return false;
    const link = await onLinkDevice(this.deps.nl, publicIP);
    return link !== undefined && !this.families.some((f) => f.dev.index === link);
  }

  private relevance(ev: NetlinkEvent): string | undefined {
    const names = this.families.map((f) => f.spec.name);
    const indexes = this.families.map((f) => f.dev.index);
    if (ev.topic === 'link' && names.includes(ev.link.name) && (ev.action === 'del' || !ev.link.up)) return `${ev.link.name} ${ev.action === 'del' ? 'deleted' : 'down'}`;
    if (ev.topic === 'route' && ev.action === 'del' && ev.route.protocol === FLANNEL_ROUTE_PROTOCOL) return `route ${ev.route.dst} deleted`;
    if (ev.topic === 'neigh' && ev.action === 'del') {
      const idx = ev.neigh?.linkIndex ?? ev.fdb?.linkIndex;
      if (idx !== undefined && indexes.includes(idx)) return ev.fdb ? `fdb ${ev.fdb.mac} deleted` : `neigh ${ev.neigh?.ip} deleted`;
    }
    return undefined;
  }
}

function samePeer(a: VxlanPeer, b: VxlanPeer): boolean {
  return a.direct === b.direct && a.publicIP.equals(b.publicIP) && a.vtepMAC.equals(b.vtepMAC) && a.subnet.equals(b.subnet);
}

/** Creates (or reuses) the device, gives it the lease's address and brings it up. */
export async function setupDevice(nl: NetlinkHandle, fam: VxlanFamily, lease: Lease, config: NetworkConfig, logger: Logger): Promise<Link> {
  fam.dev = await ensureVxlanDevice(nl, fam.spec, logger);
  await configureAddress(nl, fam, lease, config);
  await nl.linkSetUp(fam.dev.index);
  const dev = (await nl.linkByIndex(fam.dev.index))!;
  if (!fam.spec.mac.equals(dev.mac)) {
    throw new Error(`${fam.spec.name} has MAC ${dev.mac} but its lease says ${fam.spec.mac}; something else changed it`);
  }
  return dev;
}

/** The lease's network address as /32 (/128); other IPv4 addresses inside the cluster network, and other non-link-local IPv6 ones, are removed. */
function configureAddress(nl: NetlinkHandle, fam: VxlanFamily, lease: Lease, config: NetworkConfig): Promise<void> {
  const ip = fam.family === 4 ? lease.subnet!.ip : lease.ipv6Subnet!.ip;
  const isStale = fam.family === 4 ? (a: Addr) => config.network?.contains(a.ip) === true : (a: Addr) => !LINK_LOCAL_V6.contains(a.ip);
  return setHostAddress(nl, fam.dev.index, ip, isStale);
}

const LINK_LOCAL_V6 = IPNet.parse('fe80::/10');
