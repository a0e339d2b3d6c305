import {
  FLANNEL_ROUTE_PROTOCOL,
  IPNet,
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
import { setHostAddress, type Addr, type Link, type NetlinkEvent } from '@flannel-ts/core/netlink';
import type { GeneveConfig } from './config.js';
import { DEVICE, ensureGeneveDevice, isCompatible, type GeneveDeviceSpec } from './device.js';
import { readPeer } from './peer.js';

export interface GeneveDataplaneDeps {
  nl: Netlink;
  logger: Logger;
  config: NetworkConfig;
  lease: Lease;
  cfg: GeneveConfig;
  spec: GeneveDeviceSpec;
  /** The families pods use (IPv4, IPv6 or both); each peer subnet of one is routed over the same device. */
  families: (4 | 6)[];
}

const LINK_LOCAL_V6 = IPNet.parse('fe80::/10');

/**
 * The geneve backend's part of reconciliation. A peer's subnet becomes one route,
 * `<subnet> dev flannel.geneve encap ip id <VNI> dst <peer public IP> proto 70 scope link` (`encap ip6`
 * and the peer's PublicIPv6 for its IPv6 subnet); our proto-70 routes are what we own; a missing, down,
 * changed or resized flannel.geneve is put right before each resync, and the engine then replays every
 * peer onto it.
 */
export class GeneveDataplane implements Dataplane {
  readonly watch: KernelWatch = {
    topics: ['link', 'route'],
    deletionsOnly: ['route'],
    classify: (ev) => this.classify(ev),
  };

  constructor(
    private dev: Link,
    private readonly deps: GeneveDataplaneDeps,
  ) {}

  planPeer(lease: Lease): PeerPlan {
    const plan: PeerPlan = { entries: [], problems: [] };
    for (const family of this.deps.families) {
      if (!(family === 4 ? lease.subnet : lease.ipv6Subnet)) continue;
      const peer = readPeer(lease, family, this.deps.cfg);
      if ('problem' in peer) {
        plan.problems.push(this.deps.families.length > 1 ? `IPv${family}: ${peer.problem}` : peer.problem);
        continue;
      }
      plan.entries.push(routeEntry({ dst: peer.subnet, linkIndex: this.dev.index, encap: { id: this.deps.cfg.vni, dst: peer.publicIP } }));
    }
    return plan;
  }

  async readKernel(): Promise<KernelEntry[]> {
    const lists = await Promise.all(this.deps.families.map((f) => this.deps.nl.routeList(f, { protocol: FLANNEL_ROUTE_PROTOCOL })));
    return lists.flat().map((r) => routeEntry(r));
  }

  async ensureDevices(reasons: readonly string[]): Promise<DeviceCheck> {
    const { nl, logger, spec } = this.deps;
    const now = await nl.linkByName(DEVICE);
    const problem = !now ? 'missing' : !now.up ? 'down' : isCompatible(now, spec) !== true ? 'replaced by an incompatible device' : undefined;
    if (problem) {
      logger.warn({ device: DEVICE, problem, reasons }, 'geneve device is not as we left it; recreating it and replaying every peer');
      const before = this.dev.index;
      this.dev = await setupDevice(nl, spec, this.deps, logger);
      return { replan: this.dev.index !== before, repaired: [DEVICE] };
    }
    this.dev = now!;
    const repaired: string[] = [];
    if (now!.mtu !== spec.mtu) {
      logger.warn({ device: DEVICE, mtu: now!.mtu, want: spec.mtu }, 'geneve device MTU was changed; setting it back');
      await nl.linkSetMtu(now!.index, spec.mtu);
      repaired.push(DEVICE);
    }
    await configureAddresses(nl, this.dev.index, this.deps);
    return { replan: false, repaired };
  }

  private classify(ev: NetlinkEvent): { deleted: string } | { resync: string } | undefined {
    if (ev.topic === 'link') {
      if (ev.link.name !== DEVICE) return undefined;
      if (ev.action === 'del' || !ev.link.up) return { resync: `${DEVICE} ${ev.action === 'del' ? 'deleted' : 'down'}` };
      if (ev.link.mtu !== this.deps.spec.mtu) return { resync: `${DEVICE} MTU changed to ${ev.link.mtu}` };
      return undefined;
    }
    if (ev.topic === 'route' && ev.action === 'del' && ev.route.protocol === FLANNEL_ROUTE_PROTOCOL) return { deleted: routeEntry(ev.route).key };
    return undefined;
  }
}

/** Creates (or keeps) the device, gives it the lease's addresses and brings it up. */
export async function setupDevice(
  nl: Netlink,
  spec: GeneveDeviceSpec,
  deps: Pick<GeneveDataplaneDeps, 'lease' | 'config' | 'families'>,
  logger: Logger,
): Promise<Link> {
  const dev = await ensureGeneveDevice(nl, spec, logger);
  await configureAddresses(nl, dev.index, deps);
  await nl.linkSetUp(dev.index);
  return (await nl.linkByIndex(dev.index))!;
}

/**
 * The lease's network addresses as /32 and /128, so that traffic this node sends to peers' pods leaves
 * with an address inside the cluster network; older addresses of ours (another lease's) are removed.
 */
async function configureAddresses(nl: Netlink, index: number, deps: Pick<GeneveDataplaneDeps, 'lease' | 'config' | 'families'>): Promise<void> {
  const { lease, config } = deps;
  if (deps.families.includes(4) && lease.subnet) await setHostAddress(nl, index, lease.subnet.ip, (a: Addr) => config.network?.contains(a.ip) === true);
  if (deps.families.includes(6) && lease.ipv6Subnet) await setHostAddress(nl, index, lease.ipv6Subnet.ip, (a: Addr) => !LINK_LOCAL_V6.contains(a.ip));
}
