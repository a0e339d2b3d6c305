import { UserError, type Backend, type BackendContext, type Lease, type LeaseAttrs, type Network, type NetworkConfig } from '@flannel-ts/core';
import { RouteNetwork, type RouteDecision } from '@flannel-ts/backends';
import { onLinkDevice } from '@flannel-ts/core/netlink';

/**
 * host-gw (facts §6.2): each peer's subnet is routed via the peer's own address on the external interface,
 * with no encapsulation. That needs every node on one L2 segment: a peer whose address is not directly
 * reachable is skipped, with a warning that says so.
 */
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
    const routeFor = async (peer: Lease, family: 4 | 6): Promise<RouteDecision> => {
      const dst = family === 4 ? peer.subnet! : peer.ipv6Subnet!;
      const gw = family === 4 ? peer.attrs.publicIP : peer.attrs.publicIPv6;
      if (!gw) return { skip: `the lease has no IPv${family} PublicIP` };
      // host-gw routes without onlink: the kernel only takes a gateway it can reach on the link.
      if ((await onLinkDevice(nl, gw)) !== extIface.iface.index) {
        return { skip: `${gw} is not on ${extIface.iface.name}'s L2 segment; host-gw needs L2 adjacency between nodes (use vxlan across segments)` };
      }
      return { dst, gw, linkIndex: extIface.iface.index, onlink: false };
    };
    logger.info({ subnet: String(lease.subnet), iface: extIface.iface.name, mtu: extIface.iface.mtu }, 'host-gw network ready');
    return new RouteNetwork({ backendType: 'host-gw', lease, mtu: extIface.iface.mtu, families, subnetManager, nl, logger, routeFor, watchedLinks: [extIface.iface.name] });
  }
}
