import type {
  Dataplane,
  DeviceCheck,
  IP,
  IPNet,
  KernelEntry,
  KernelWatch,
  Lease,
  Logger,
  Netlink,
  NetworkConfig,
  PeerPlan,
  PeerTraffic,
} from '@flannel-ts/core';
import { formatEndpoint, NetlinkError, wgKeyToBase64, type NetlinkEvent, type WgDevice, type WgSecret } from '@flannel-ts/core/netlink';
import type { WireguardConfig } from './config.js';
import { configureAddresses, configureWg, ensureWgLink, networkRoutes, setupDevice, type WgDeviceState } from './device.js';
import { kernelPeerEntry, WgPeerEntry } from './peer-entry.js';
import { autoEndpointFamily, leaseSubnets, readPeerData, type PeerData } from './peer.js';

export interface WireguardDataplaneDeps {
  nl: Netlink;
  logger: Logger;
  config: NetworkConfig;
  lease: Lease;
  cfg: WireguardConfig;
  /** Our private key, clamped as the kernel holds it. */
  key: WgSecret;
  /** Our underlay addresses, for `auto` mode's choice of a peer's endpoint. */
  ours: { v4?: IP | undefined; v6?: IP | undefined };
}

/**
 * The wireguard backend's part of reconciliation. A peer lease becomes one wireguard peer per device that
 * carries it (its public key, its endpoint, its subnets as allowed IPs); what we own is every peer on our
 * devices; a device that is missing, down, resized, or holds another key or port is put right before each
 * resync. The kernel says nothing when a peer is removed (`wg set … remove`): the periodic resync (60 s, flanneld's -kernel-resync)
 * finds it. A deleted or downed device is reported by the link monitor and repaired at once, every peer
 * replayed onto it.
 */
export class WireguardDataplane implements Dataplane {
  readonly watch: KernelWatch = {
    topics: ['link', 'route'],
    deletionsOnly: ['route'],
    classify: (ev) => this.classify(ev),
  };

  constructor(
    private readonly devices: WgDeviceState[],
    private readonly deps: WireguardDataplaneDeps,
  ) {}

  planPeer(lease: Lease): PeerPlan {
    const plan: PeerPlan = { entries: [], problems: [] };
    if (lease.attrs.backendType !== 'wireguard') {
      plan.problems.push(`BackendType is ${JSON.stringify(lease.attrs.backendType ?? '')}, not "wireguard"`);
      return plan;
    }
    if (this.deps.cfg.mode === 'separate') {
      for (const dev of this.devices) {
        const family = dev.spec.families[0]!;
        const r = this.planFamilyPeer(lease, dev, family);
        if ('problem' in r) plan.problems.push(this.devices.length > 1 ? `IPv${family}: ${r.problem}` : r.problem);
        else if (r.entry) plan.entries.push(r.entry);
      }
      return plan;
    }
    const r = this.planSinglePeer(lease, this.devices[0]!);
    if ('problem' in r) plan.problems.push(r.problem);
    else plan.entries.push(r.entry);
    return plan;
  }

  /** Separate mode: the peer of one family on that family's device. */
  private planFamilyPeer(lease: Lease, dev: WgDeviceState, family: 4 | 6): { entry?: WgPeerEntry } | { problem: string } {
    const subnet = family === 4 ? lease.subnet : lease.ipv6Subnet;
    if (!subnet) return {};
    const ip = family === 4 ? lease.attrs.publicIP : lease.attrs.publicIPv6;
    if (!ip) return { problem: `no IPv${family} PublicIP` };
    const data = readPeerData(family === 4 ? lease.attrs.backendData : lease.attrs.backendV6Data, family === 4 ? 'BackendData' : 'BackendV6Data');
    if ('problem' in data) return data;
    return { entry: this.entry(dev, data, ip, [subnet]) };
  }

  /** auto, ipv4, ipv6: one peer on flannel-wg with all its subnets, reached over the family the mode picks. */
  private planSinglePeer(lease: Lease, dev: WgDeviceState): { entry: WgPeerEntry } | { problem: string } {
    const subnets = leaseSubnets(lease, dev.spec.families);
    if (subnets.length === 0) return { problem: `no subnet of the network's families (IPv${dev.spec.families.join(', IPv')})` };
    const { mode } = this.deps.cfg;
    const a = lease.attrs;
    const family = mode === 'ipv4' ? 4 : mode === 'ipv6' ? 6 : autoEndpointFamily({ v4: a.publicIP, v6: a.publicIPv6 }, this.deps.ours);
    const ip = family === 4 ? a.publicIP : a.publicIPv6;
    if (!ip) return { problem: `no IPv${family} PublicIP (${mode} mode reaches peers over IPv${family})` };
    const [first, other] = family === 4 ? [a.backendData, a.backendV6Data] : [a.backendV6Data, a.backendData];
    const names = family === 4 ? ['BackendData', 'BackendV6Data'] : ['BackendV6Data', 'BackendData'];
    // Single-device nodes publish the same key and port in both; a lease with only one of them will do.
    const data = first === undefined && other !== undefined ? readPeerData(other, names[1]!) : readPeerData(first, names[0]!);
    if ('problem' in data) return data;
    return { entry: this.entry(dev, data, ip, subnets) };
  }

  private entry(dev: WgDeviceState, data: PeerData, ip: IP, allowedIPs: IPNet[]): WgPeerEntry {
    const { cfg } = this.deps;
    return new WgPeerEntry({
      ifindex: dev.link.index,
      publicKey: data.publicKey,
      // Older leases name no port: ours, as Go flannel assumes.
      endpoint: { ip, port: data.port ?? dev.spec.listenPort },
      allowedIPs,
      persistentKeepalive: cfg.persistentKeepalive,
      presharedKey: cfg.psk,
    });
  }

  async readKernel(): Promise<KernelEntry[]> {
    const entries: KernelEntry[] = [];
    for (const dev of this.devices) {
      const wg = await this.show(dev);
      for (const p of wg?.peers ?? []) entries.push(kernelPeerEntry(dev.link.index, p));
    }
    return entries;
  }

  async ensureDevices(reasons: readonly string[]): Promise<DeviceCheck> {
    const { nl, logger, lease, config, key } = this.deps;
    let replan = false;
    const repaired: string[] = [];
    for (const dev of this.devices) {
      const link = await nl.linkByName(dev.spec.name);
      const problem = !link ? 'missing' : link.kind !== 'wireguard' ? `replaced by a ${link.kind ?? 'plain'} device` : !link.up ? 'down' : undefined;
      if (problem) {
        logger.warn({ device: dev.spec.name, problem, reasons }, 'wireguard device is not as we left it; recreating it and replaying every peer');
        const before = dev.link.index;
        dev.link = await ensureWgLink(nl, dev.spec, logger);
        await configureWg(nl, dev, key);
        dev.link = await setupDevice(nl, dev, lease, config);
        replan ||= dev.link.index !== before;
        repaired.push(dev.spec.name);
        continue;
      }
      dev.link = link!;
      let fixed = false;
      if (link!.mtu !== dev.spec.mtu) {
        logger.warn({ device: dev.spec.name, mtu: link!.mtu, want: dev.spec.mtu }, 'wireguard device MTU was changed; setting it back');
        await nl.linkSetMtu(link!.index, dev.spec.mtu);
        fixed = true;
      }
      const wg = await this.show(dev);
      if (wg && (!key.equals(wg.privateKey) || wg.listenPort !== dev.spec.listenPort)) {
        logger.warn(
          { device: dev.spec.name, listenPort: wg.listenPort, want: dev.spec.listenPort },
          'wireguard device has another private key or port; setting ours back',
        );
        await configureWg(nl, dev, key);
        fixed = true;
      }
      await configureAddresses(nl, dev, lease, config);
      for (const want of networkRoutes(dev.spec, link!.index, config)) {
        const have = await nl.routeList(want.dst!.family, { protocol: want.protocol! });
        if (have.some((r) => r.dst?.equals(want.dst) && r.linkIndex === want.linkIndex)) continue;
        logger.warn({ device: dev.spec.name, route: String(want.dst) }, 'the route to the network over the wireguard device is gone; putting it back');
        await nl.routeReplace(want);
        fixed = true;
      }
      if (fixed) repaired.push(dev.spec.name);
    }
    return { replan, repaired };
  }

  /** Every peer's handshake and byte counts, read now. */
  async peerTraffic(): Promise<PeerTraffic[]> {
    const out: PeerTraffic[] = [];
    for (const dev of this.devices) {
      const wg = await this.show(dev);
      for (const p of wg?.peers ?? []) {
        out.push({
          device: dev.spec.name,
          publicKey: wgKeyToBase64(p.publicKey),
          subnets: p.allowedIPs.map(String),
          ...(p.endpoint ? { endpoint: formatEndpoint(p.endpoint) } : {}),
          ...(p.latestHandshake ? { latestHandshake: p.latestHandshake.toISOString() } : {}),
          rxBytes: Number(p.rxBytes),
          txBytes: Number(p.txBytes),
        });
      }
    }
    return out;
  }

  /** `wg show DEV`; undefined when the device is gone (the next resync makes it again). */
  private async show(dev: WgDeviceState): Promise<WgDevice | undefined> {
    try {
      return await this.deps.nl.wgGetDevice!(dev.link.index);
    } catch (err) {
      if (err instanceof NetlinkError && (err.code === 'ENODEV' || err.code === 'EOPNOTSUPP')) return undefined;
      throw err;
    }
  }

  private classify(ev: NetlinkEvent): { resync: string } | undefined {
    if (ev.topic === 'link') {
      const dev = this.devices.find((d) => d.spec.name === ev.link.name);
      if (!dev) return undefined;
      if (ev.action === 'del' || !ev.link.up) return { resync: `${ev.link.name} ${ev.action === 'del' ? 'deleted' : 'down'}` };
      if (ev.link.mtu !== dev.spec.mtu) return { resync: `${ev.link.name} MTU changed to ${ev.link.mtu}` };
      return undefined;
    }
    if (ev.topic === 'route' && ev.action === 'del') {
      const r = ev.route;
      for (const dev of this.devices) {
        if (r.linkIndex !== dev.link.index) continue;
        if (networkRoutes(dev.spec, dev.link.index, this.deps.config).some((w) => w.dst?.equals(r.dst)))
          return { resync: `route ${r.dst} on ${dev.spec.name} deleted` };
      }
    }
    return undefined;
  }
}
