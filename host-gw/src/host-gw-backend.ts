// The host-gw backend.
//
// No encapsulation: each peer's pod subnet is routed via the peer's own address on the external
// interface (`<subnet> via <peer IP> dev eth0 proto 70`), so packets leave with their pod addresses. That
// needs every node on one L2 segment, and an address the peers reach directly (no NAT): a peer whose
// address is not on one of our interface's connected networks is skipped with a warning that says so,
// and counted in /metrics. The routes are kept in step by core's engine through the shared RouteDataplane;
// this file only decides each peer's route.
import {
  ConnectedNets,
  reconciledNetwork,
  UserError,
  type Backend,
  type BackendContext,
  type Lease,
  type LeaseAttrs,
  type Network,
  type NetworkConfig,
} from '@flannel-ts/core';
import { RouteDataplane, type RouteDecision } from '@flannel-ts/backends';

export class HostGwBackend implements Backend {
  constructor(private readonly ctx: BackendContext) {}

  async registerNetwork(config: NetworkConfig, signal: AbortSignal): Promise<Network> {
    const { extIface, subnetManager, logger, netlink: nl } = this.ctx;
    const natted =
      (extIface.extAddr && !extIface.extAddr.equals(extIface.ifaceAddr)) || (extIface.extV6Addr && !extIface.extV6Addr.equals(extIface.ifaceV6Addr));
    if (natted) {
      throw new UserError(
        '--public-ip',
        "your PublicIP differs from interface IP, meaning that probably you're on a NAT, which is not supported by host-gw backend",
        'drop --public-ip, or use the vxlan backend',
      );
    }
    const attrs: LeaseAttrs = { backendType: 'host-gw' };
    if (config.enableIPv4 && extIface.extAddr) attrs.publicIP = extIface.extAddr;
    if (config.enableIPv6 && extIface.extV6Addr) attrs.publicIPv6 = extIface.extV6Addr;
    const lease = await subnetManager.acquireLease(attrs, signal);

    const families = [...(config.enableIPv4 ? [4 as const] : []), ...(config.enableIPv6 ? [6 as const] : [])];
    const connected = new ConnectedNets();
    await connected.refresh(nl, families);
    const routeFor = (peer: Lease, family: 4 | 6): RouteDecision => {
      const dst = family === 4 ? peer.subnet! : peer.ipv6Subnet!;
      const gw = family === 4 ? peer.attrs.publicIP : peer.attrs.publicIPv6;
      if (!gw) return { skip: `the lease has no IPv${family} PublicIP` };
      // Without onlink the kernel only takes a gateway it reaches on the link: check that first.
      if (connected.linkFor(gw) !== extIface.iface.index) {
        return { skip: `${gw} is not on ${extIface.iface.name}'s L2 segment; host-gw needs L2 adjacency between nodes (use vxlan across segments)` };
      }
      return { dst, gw, linkIndex: extIface.iface.index, onlink: false };
    };
    const dataplane = new RouteDataplane({
      backendType: 'host-gw',
      families,
      nl,
      routeFor,
      ensureDevices: () => connected.refresh(nl, families),
      watchedLinks: [extIface.iface.name],
    });
    logger.info({ subnet: String(lease.subnet), iface: extIface.iface.name, mtu: extIface.iface.mtu }, 'host-gw network ready');
    return reconciledNetwork(this.ctx, { lease, mtu: extIface.iface.mtu, config, dataplane });
  }
}
