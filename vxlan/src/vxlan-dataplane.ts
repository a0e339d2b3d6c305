import { setImmediate as yieldToLoop } from 'node:timers/promises';
import {
  ConnectedNets,
  fdbEntry,
  FLANNEL_ROUTE_PROTOCOL,
  IPNet,
  neighEntry,
  nexthopEntry,
  routeEntry,
  type Dataplane,
  type DeviceCheck,
  type KernelEntry,
  type KernelWatch,
  type Lease,
  type Logger,
  type Netlink,
  type NetworkConfig,
  type PeerPlan,
} from '@flannel-ts/core';
import { nlconst, setHostAddress, type Addr, type Link, type NetlinkEvent } from '@flannel-ts/core/netlink';
import { ensureVxlanDevice, isCompatible, type VxlanDeviceSpec } from './device.js';
import { applyChecksumOffload, type ChecksumDecision } from './checksum.js';
import { peerEntries, type PeerTarget } from './peer-entries.js';
import { readPeer } from './peer.js';

/** One address family's device. */
export interface VxlanFamily extends PeerTarget {
  family: 4 | 6;
  spec: VxlanDeviceSpec;
}

export interface VxlanDataplaneDeps {
  nl: Netlink;
  logger: Logger;
  config: NetworkConfig;
  lease: Lease;
  directRouting: boolean;
  /** The TX checksum offload every vxlan device gets (again after it is recreated). */
  checksum: ChecksumDecision;
}

const permanent = (e: { state?: number | undefined }) => ((e.state ?? 0) & nlconst.NUD_PERMANENT) !== 0;

/** Kernel objects turned into entries between two turns of the event loop (about 5 ms of work). */
const ENTRIES_PER_SLICE = 1000;

/** Appends the entries of listed kernel objects (undefined: not ours), yielding before each slice. */
async function addEntries<T>(out: KernelEntry[], items: readonly T[], toEntry: (item: T) => KernelEntry | undefined): Promise<void> {
  for (let i = 0; i < items.length; i++) {
    if (i % ENTRIES_PER_SLICE === 0) await yieldToLoop();
    const e = toEntry(items[i]!);
    if (e) out.push(e);
  }
}

/**
 * The vxlan backend's part of reconciliation: a lease becomes neighbour, FDB, nexthop and route entries
 * on flannel.<VNI> (and flannel-v6.<VNI>); the kernel's permanent entries on those devices and our
 * proto-70 routes and nexthops are what we own; a missing, down, incompatible or resized device is
 * recreated or fixed before each resync, and the engine then replays every peer onto it.
 */
export class VxlanDataplane implements Dataplane {
  private readonly connected = new ConnectedNets();
  readonly watch: KernelWatch = {
    topics: ['link', 'route', 'neigh'],
    deletionsOnly: ['route', 'neigh'],
    classify: (ev) => this.classify(ev),
  };

  constructor(
    private readonly families: VxlanFamily[],
    private readonly deps: VxlanDataplaneDeps,
  ) {}

  /** Reads what DirectRouting needs before the first peer is planned. */
  async start(): Promise<void> {
    if (this.deps.directRouting)
      await this.connected.refresh(
        this.deps.nl,
        this.families.map((f) => f.family),
      );
  }

  planPeer(lease: Lease): PeerPlan {
    const plan: PeerPlan = { entries: [], problems: [] };
    for (const fam of this.families) {
      if (!(fam.family === 4 ? lease.subnet : lease.ipv6Subnet)) continue;
      const peer = readPeer(lease, fam.family);
      if ('problem' in peer) {
        plan.problems.push(this.families.length > 1 ? `IPv${fam.family}: ${peer.problem}` : peer.problem);
        continue;
      }
      plan.entries.push(...peerEntries(fam, peer, this.directLink(peer.publicIP)));
    }
    return plan;
  }

  async readKernel(): Promise<KernelEntry[]> {
    const { nl } = this.deps;
    const entries: KernelEntry[] = [];
    // One dump at a time, and its entries built in slices, with turns of the event loop between: each dump
    // is read and decoded in one go (5,000 peers: 5,000 objects a dump), and four of them back to back with
    // their entries held the loop for a fifth of a second.
    for (const fam of this.families) {
      await addEntries(entries, await nl.neighList(fam.dev.index, fam.family), (n) => (permanent(n) ? neighEntry(n) : undefined));
      await yieldToLoop();
      await addEntries(entries, await nl.fdbList(fam.dev.index), (f) => (permanent(f) && f.dst?.family === fam.family ? fdbEntry(f) : undefined));
      await yieldToLoop();
      await addEntries(entries, await nl.routeList(fam.family, { protocol: FLANNEL_ROUTE_PROTOCOL }), routeEntry);
      if (!fam.nexthops || fam.family !== 4) continue;
      await yieldToLoop();
      await addEntries(entries, await nl.nexthopList(), (nh) => (nh.protocol === FLANNEL_ROUTE_PROTOCOL ? nexthopEntry(nh) : undefined));
    }
    return entries;
  }

  async ensureDevices(reasons: readonly string[]): Promise<DeviceCheck> {
    const { nl, logger } = this.deps;
    let changed = false;
    const repaired: string[] = [];
    for (const fam of this.families) {
      const dev = await nl.linkByName(fam.spec.name);
      const problem = !dev ? 'missing' : !dev.up ? 'down' : isCompatible(dev, fam.spec) !== true ? 'replaced by an incompatible device' : undefined;
      if (problem) {
        logger.warn({ device: fam.spec.name, problem, reasons }, 'vxlan device is not as we left it; recreating it and replaying every peer');
        const before = fam.dev.index;
        fam.dev = await setupDevice(nl, fam, this.deps.lease, this.deps.config, logger);
        await applyChecksumOffload(nl, fam.spec.name, this.deps.checksum, logger);
        changed ||= fam.dev.index !== before;
        repaired.push(fam.spec.name);
        continue;
      }
      fam.dev = dev!;
      if (dev!.mtu !== fam.spec.mtu) {
        logger.warn({ device: fam.spec.name, mtu: dev!.mtu, want: fam.spec.mtu }, 'vxlan device MTU was changed; setting it back');
        await nl.linkSetMtu(dev!.index, fam.spec.mtu);
        repaired.push(fam.spec.name);
      }
      await configureAddress(nl, fam, this.deps.lease, this.deps.config);
    }
    if (this.deps.directRouting)
      changed =
        (await this.connected.refresh(
          nl,
          this.families.map((f) => f.family),
        )) || changed;
    return { replan: changed, repaired };
  }

  /** The link that reaches a DirectRouting peer without a router, if any (never our own vxlan device). */
  private directLink(publicIP: Parameters<ConnectedNets['linkFor']>[0]): number | undefined {
    if (!this.deps.directRouting) return undefined;
    const link = this.connected.linkFor(publicIP);
    return link !== undefined && !this.families.some((f) => f.dev.index === link) ? link : undefined;
  }

  private classify(ev: NetlinkEvent): { deleted: string } | { resync: string } | undefined {
    if (ev.topic === 'link') {
      const fam = this.families.find((f) => f.spec.name === ev.link.name);
      if (!fam) return undefined;
      if (ev.action === 'del' || !ev.link.up) return { resync: `${ev.link.name} ${ev.action === 'del' ? 'deleted' : 'down'}` };
      if (ev.link.mtu !== fam.spec.mtu) return { resync: `${ev.link.name} MTU changed to ${ev.link.mtu}` };
      return undefined;
    }
    if (ev.action !== 'del') return undefined;
    if (ev.topic === 'route' && ev.route.protocol === FLANNEL_ROUTE_PROTOCOL) return { deleted: routeEntry(ev.route).key };
    if (ev.topic === 'neigh' && ev.fdb) return { deleted: fdbEntry(ev.fdb).key };
    if (ev.topic === 'neigh' && ev.neigh) return { deleted: neighEntry(ev.neigh).key };
    return undefined;
  }
}

/** Creates (or reuses) the device, gives it the lease's address and brings it up. */
export async function setupDevice(nl: Netlink, fam: VxlanFamily, lease: Lease, config: NetworkConfig, logger: Logger): Promise<Link> {
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
function configureAddress(nl: Netlink, fam: VxlanFamily, lease: Lease, config: NetworkConfig): Promise<void> {
  const ip = fam.family === 4 ? lease.subnet!.ip : lease.ipv6Subnet!.ip;
  const isStale = fam.family === 4 ? (a: Addr) => config.network?.contains(a.ip) === true : (a: Addr) => !LINK_LOCAL_V6.contains(a.ip);
  return setHostAddress(nl, fam.dev.index, ip, isStale);
}

const LINK_LOCAL_V6 = IPNet.parse('fe80::/10');
