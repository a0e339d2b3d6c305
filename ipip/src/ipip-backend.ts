import { UserError, type Backend, type BackendContext, type Lease, type Network, type NetworkConfig } from '@flannel-ts/core';
import { onLinkDevice, setHostAddress, type Link, type NetlinkHandle } from '@flannel-ts/core/netlink';
import { RouteNetwork, type RouteDecision } from '@flannel-ts/backends';
import { parseIpipConfig } from './config.js';
import { ensureIpipDevice, IPIP_DEVICE } from './device.js';

/**
 * ipip (facts §6.3): pod traffic in IP-in-IP to each peer's PublicIP over `flannel.ipip`; with
 * DirectRouting, peers on our L2 get plain routes over the external interface. The device is made before
 * the lease (Go does it after), so that a kernel without ipip costs no lease.
 */
export class IpipBackend implements Backend {
  constructor(private readonly ctx: BackendContext) {}

  async registerNetwork(config: NetworkConfig, signal: AbortSignal): Promise<Network> {
    const { extIface, subnetManager, logger, netlink: nl } = this.ctx;
    const cfg = parseIpipConfig(config.backend, logger);
    if (!config.enableIPv4 || config.enableIPv6) {
      throw new UserError('EnableIPv6', 'the ipip backend is IPv4 only', 'disable IPv6 in net-conf, or use vxlan for dual stack');
    }
    if (!extIface.ifaceAddr || !extIface.extAddr) throw new UserError('--iface', `${extIface.iface.name} has no IPv4 address`, 'pick an interface with one');
    const local = extIface.ifaceAddr;
    let dev = await ensureIpipDevice(nl, local, extIface.iface.mtu, logger);

    const lease = await subnetManager.acquireLease({ backendType: 'ipip', publicIP: extIface.extAddr }, signal);
    dev = await configureDevice(nl, dev, lease, config);

    const routeFor = async (peer: Lease): Promise<RouteDecision> => {
      const gw = peer.attrs.publicIP;
      if (!gw) return { skip: 'the lease has no PublicIP' };
      const direct = cfg.directRouting && (await onLinkDevice(nl, gw)) === extIface.iface.index;
      return { dst: peer.subnet!, gw, linkIndex: direct ? extIface.iface.index : dev.index, onlink: true };
    };
    const beforeReconcile = async (reasons: string[]) => {
      const now = await nl.linkByName(IPIP_DEVICE);
      if (now?.kind === 'ipip' && now.up) return;
      logger.warn({ device: IPIP_DEVICE, reasons }, 'ipip device is missing or down; recreating it');
      dev = await configureDevice(nl, await ensureIpipDevice(nl, local, extIface.iface.mtu, logger), lease, config);
    };
    logger.info({ subnet: String(lease.subnet), device: IPIP_DEVICE, mtu: dev.mtu, directRouting: cfg.directRouting }, 'ipip network ready');
    return new RouteNetwork({
      backendType: 'ipip',
      lease,
      mtu: dev.mtu,
      families: [4],
      subnetManager,
      nl,
      logger,
      routeFor,
      beforeReconcile,
      watchedLinks: [IPIP_DEVICE],
    });
  }
}

/** The lease's network address as /32 (other addresses inside the cluster network removed), then up. */
async function configureDevice(nl: NetlinkHandle, dev: Link, lease: Lease, config: NetworkConfig): Promise<Link> {
  await setHostAddress(nl, dev.index, lease.subnet!.ip, (a) => config.network?.contains(a.ip) === true);
  await nl.linkSetUp(dev.index);
  return (await nl.linkByIndex(dev.index))!;
}
