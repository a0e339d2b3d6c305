// The vxlan backend.
//
// Every node gets a vxlan device, flannel.<VNI> (flannel-v6.<VNI> for IPv6), whose MAC address is its
// VTEP MAC, and publishes that MAC in its lease's BackendData ({"VNI":1,"VtepMAC":"…"}). To reach a
// peer's pod subnet the kernel needs three things, all written statically, with learning off:
//   - a route: <peer subnet> via <peer subnet.0> dev flannel.<VNI> onlink
//   - a neighbour entry: <peer subnet.0> lladdr <peer VTEP MAC>, so the route's gateway resolves
//     without ARP
//   - an FDB entry: <peer VTEP MAC> dst <peer public IP>, so the frame is sent to the right node
// The device exists before the lease is taken (its MAC goes into the lease), and the MAC survives
// restarts, because peers' FDB entries point at it. This is Go flannel's wire format and kernel state,
// so Go and flannel-ts nodes are peers. Peers are kept in step by core's reconciliation engine; this
// package only says what a peer needs (vxlan-dataplane.ts) and how the device must look (device.ts).
import { randomBytes } from 'node:crypto';
import {
  MAC,
  reconciledNetwork,
  UserError,
  type Backend,
  type BackendContext,
  type JsonValue,
  type Lease,
  type LeaseAttrs,
  type Netlink,
  type Network,
  type NetworkConfig,
} from '@flannel-ts/core';
import { release } from 'node:os';
import { applyChecksumOffload, decideChecksumOffload } from './checksum.js';
import { parseVxlanConfig, VXLAN_OVERHEAD, VXLAN_V6_OVERHEAD, type VxlanConfig } from './config.js';
import { ensureVxlanDevice, isCompatible, type VxlanDeviceSpec } from './device.js';
import { setupDevice, VxlanDataplane, type VxlanFamily } from './vxlan-dataplane.js';

/** Nexthop objects arrived in Linux 5.3; without them a dump request fails. */
async function supportsNexthops(nl: Netlink): Promise<boolean> {
  try {
    await nl.nexthopList();
    return true;
  } catch {
    return false;
  }
}

export const deviceName = (family: 4 | 6, vni: number) => (family === 4 ? `flannel.${vni}` : `flannel-v6.${vni}`);

/** Go flannel's order: device first, so the lease can carry its MAC; then the lease; then the device's address. */
export class VxlanBackend implements Backend {
  constructor(private readonly ctx: BackendContext) {}

  async registerNetwork(config: NetworkConfig, signal: AbortSignal): Promise<Network> {
    const { extIface, logger, netlink: nl, subnetManager } = this.ctx;
    const cfg = parseVxlanConfig(config.backend, logger);
    const families: (4 | 6)[] = [];
    if (config.enableIPv4) families.push(4);
    if (config.enableIPv6) families.push(6);
    if (config.enableIPv4 && !extIface.extAddr)
      throw new UserError('--iface', `${extIface.iface.name} has no IPv4 address`, 'pick an interface with one, or set --public-ip');
    if (config.enableIPv6 && !extIface.extV6Addr)
      throw new UserError('--iface', `${extIface.iface.name} has no IPv6 address`, 'pick an interface with one, or set --public-ipv6');
    const mtu = cfg.mtu ?? extIface.iface.mtu;

    const baseAttrs: LeaseAttrs = { backendType: 'vxlan' };
    if (extIface.extAddr) baseAttrs.publicIP = extIface.extAddr;
    if (extIface.extV6Addr) baseAttrs.publicIPv6 = extIface.extV6Addr;
    const previous = await subnetManager.lookupLease?.(baseAttrs, signal);

    const nexthops = await supportsNexthops(nl);
    if (!nexthops) logger.info({}, 'this kernel has no nexthop objects; peer routes are plain gateway routes');
    const fams: VxlanFamily[] = [];
    for (const family of families) {
      const spec = await this.deviceSpec(family, cfg, mtu - (family === 4 ? VXLAN_OVERHEAD : VXLAN_V6_OVERHEAD), previous);
      // The device exists before the lease, as in Go flannel, so that a kernel refusal costs no lease.
      fams.push({ family, spec, dev: await ensureVxlanDevice(nl, spec, logger), nexthops });
    }
    const attrs: LeaseAttrs = { ...baseAttrs };
    for (const f of fams) {
      const data: JsonValue = { VNI: cfg.vni, VtepMAC: String(f.spec.mac) };
      if (f.family === 4) attrs.backendData = data;
      else attrs.backendV6Data = data;
    }

    const lease = await subnetManager.acquireLease(attrs, signal);
    const checksum = decideChecksumOffload(cfg.checksumOffload, release());
    for (const f of fams) {
      f.dev = await setupDevice(nl, f, lease, config, logger);
      await applyChecksumOffload(nl, f.spec.name, checksum, logger);
    }
    logger.info(
      { devices: fams.map((f) => f.spec.name), mode: checksum.mode, offload: checksum.offload ? 'on' : 'off', reason: checksum.reason },
      'vxlan TX checksum offload',
    );
    // Pods carry both families in dual stack, so they get the smaller of the two device MTUs.
    const podMtu = Math.min(...fams.map((f) => f.spec.mtu));
    const dataplane = new VxlanDataplane(fams, { nl, logger, config, lease, directRouting: cfg.directRouting, checksum });
    await dataplane.start();
    logger.info(
      { subnet: String(lease.subnet), ipv6Subnet: lease.ipv6Subnet?.toString(), devices: fams.map((f) => f.spec.name), mtu: podMtu },
      'vxlan network ready',
    );
    const details = { checksumOffload: `${checksum.offload ? 'on' : 'off'} (${checksum.mode}: ${checksum.reason})` };
    return reconciledNetwork(this.ctx, { lease, mtu: podMtu, config, dataplane, details: () => details });
  }

  /**
   * The VTEP MAC survives restarts: the one in our previous lease (peers' FDB entries point at it), else the
   * existing device's, else a new random locally administered one.
   */
  private async deviceSpec(family: 4 | 6, cfg: VxlanConfig, mtu: number, previous: Lease | undefined): Promise<VxlanDeviceSpec> {
    const { extIface, netlink: nl } = this.ctx;
    const partial = {
      name: deviceName(family, cfg.vni),
      vni: cfg.vni,
      vtepIndex: extIface.iface.index,
      port: cfg.port,
      learning: cfg.learning,
      gbp: cfg.gbp,
      mtu,
    };
    const local = family === 4 ? extIface.extAddr : extIface.extV6Addr;
    const base = local ? { ...partial, local } : partial;
    const data = family === 4 ? previous?.attrs.backendData : previous?.attrs.backendV6Data;
    const leaseMAC = data && typeof data === 'object' && !Array.isArray(data) && typeof data.VtepMAC === 'string' ? MAC.tryParse(data.VtepMAC) : undefined;
    const existing = await nl.linkByName(base.name);
    const deviceMAC = existing?.mac && isCompatible(existing, { ...base, mac: existing.mac }) === true ? existing.mac : undefined;
    return { ...base, mac: leaseMAC ?? deviceMAC ?? MAC.randomLocal((n) => randomBytes(n)) };
  }
}
