// The geneve backend: a flannel-ts plugin written only against @flannel-ts/core's public SDK.
//
// Design note. Linux geneve has no forwarding database: a vxlan device learns where to send a frame from
// its FDB (`bridge fdb append <MAC> dst <peer>`), a geneve device either has one fixed remote or, in
// "external" (collect_md) mode, takes the remote and the VNI of each packet from the packet's route.
// The choices were:
//   - one point-to-point device per peer (`type geneve id VNI remote <peer>`): N-1 devices per node,
//     created and deleted with leases, and still Ethernet devices that need a neighbour entry per peer;
//   - one external device carrying Ethernet frames, plus per peer a route with tunnel metadata and a
//     permanent neighbour entry for a gateway (vxlan's scheme, with the peer's device MAC published in
//     BackendData);
//   - one external device carrying bare IP packets (`innerprotoinherit`, Linux 5.15 has it), plus per
//     peer one route with tunnel metadata. No MACs, no neighbours, no ARP.
// This backend takes the third: the least kernel state (one route per peer), nothing to publish but the
// settings peers must share, and a single entry kind for the engine to diff and repair:
//
//   ip link add flannel.geneve type geneve external innerprotoinherit dstport <Port>   (MTU: ext − 50, or − 70 with IPv6)
//   ip addr add <our subnet>.0/32 dev flannel.geneve
//   ip route replace <peer subnet> dev flannel.geneve encap ip id <VNI> dst <peer PublicIP> proto 70
//
// Received packets are matched on the UDP port alone (an external device takes every VNI) and come out
// of flannel.geneve as IP packets, so rp_filter's reverse path is the peer's route. IPv6 pod subnets use
// `encap ip6 … dst <peer PublicIPv6>` over the same device. The lease's BackendData is {"VNI":…,"Port":…};
// a peer with other values is skipped with a warning, since its packets would not arrive.
//
// Peers are kept in step by core's reconciliation engine (reconciledNetwork): this package says what a
// peer needs (geneve-dataplane.ts) and how the device must look (device.ts), nothing else.
import { reconciledNetwork, UserError, type Backend, type BackendContext, type LeaseAttrs, type Network, type NetworkConfig } from '@flannel-ts/core';
import { OVERHEAD_V4, OVERHEAD_V6, parseGeneveConfig } from './config.js';
import { DEVICE, ensureGeneveDevice } from './device.js';
import { GeneveDataplane, setupDevice } from './geneve-dataplane.js';
import { backendData } from './peer.js';

export class GeneveBackend implements Backend {
  constructor(private readonly ctx: BackendContext) {}

  async registerNetwork(config: NetworkConfig, signal: AbortSignal): Promise<Network> {
    const { extIface, logger, netlink: nl, subnetManager } = this.ctx;
    const cfg = parseGeneveConfig(config.backend, logger);
    const families: (4 | 6)[] = [];
    if (config.enableIPv4) families.push(4);
    if (config.enableIPv6) families.push(6);
    if (config.enableIPv4 && !extIface.extAddr)
      throw new UserError('--iface', `${extIface.iface.name} has no IPv4 address`, 'pick an interface with one, or set --public-ip');
    if (config.enableIPv6 && !extIface.extV6Addr)
      throw new UserError('--iface', `${extIface.iface.name} has no IPv6 address`, 'pick an interface with one, or set --public-ipv6');
    // Pods carry both families in dual stack, and IPv6 packets go over the IPv6 underlay: the larger overhead wins.
    const mtu = extIface.iface.mtu - (config.enableIPv6 ? OVERHEAD_V6 : OVERHEAD_V4);
    if (mtu < 576) throw new UserError('--iface', `the interface MTU ${extIface.iface.mtu} leaves ${mtu} for pods`, 'use an interface with a larger MTU');
    const spec = { port: cfg.port, mtu };

    // The device before the lease: a kernel without geneve costs no lease.
    await ensureGeneveDevice(nl, spec, logger);
    const attrs: LeaseAttrs = { backendType: 'geneve' };
    if (config.enableIPv4) {
      attrs.publicIP = extIface.extAddr!;
      attrs.backendData = backendData(cfg);
    }
    if (config.enableIPv6) {
      attrs.publicIPv6 = extIface.extV6Addr!;
      attrs.backendV6Data = backendData(cfg);
    }
    const lease = await subnetManager.acquireLease(attrs, signal);

    const deps = { nl, logger, config, lease, cfg, spec, families };
    const dev = await setupDevice(nl, spec, deps, logger);
    logger.info(
      { subnet: lease.subnet?.toString(), ipv6Subnet: lease.ipv6Subnet?.toString(), device: DEVICE, vni: cfg.vni, port: cfg.port, mtu },
      'geneve network ready',
    );
    return reconciledNetwork(this.ctx, {
      lease,
      mtu: dev.mtu,
      config,
      dataplane: new GeneveDataplane(dev, deps),
      details: () => ({ device: DEVICE, vni: cfg.vni, port: cfg.port }),
    });
  }
}
