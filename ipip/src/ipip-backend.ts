// The ipip backend.
//
// Pod traffic to a peer is wrapped in an outer IPv4 header (IP-in-IP, protocol 4) addressed to the peer's
// public IP: one tunnel device, flannel.ipip (local = our interface address, any remote), carries it, and
// each peer's subnet is routed `via <peer public IP> dev flannel.ipip onlink`. The device's MTU is the
// interface's minus the 20-byte outer header. With DirectRouting, a peer on our L2 gets a plain route over
// the external interface instead. IPv4 only. The device is made before the lease (Go does it after), so
// that a kernel without ipip costs no lease. Routes are kept in step by core's engine through the shared
// RouteDataplane; this file decides each peer's route and keeps the device right.
import {
  ConnectedNets,
  reconciledNetwork,
  UserError,
  type Backend,
  type BackendContext,
  type DeviceCheck,
  type Lease,
  type Netlink,
  type Network,
  type NetworkConfig,
} from '@flannel-ts/core';
import { setHostAddress, type Link } from '@flannel-ts/core/netlink';
import { RouteDataplane, type RouteDecision } from '@flannel-ts/backends';
import { parseIpipConfig } from './config.js';
import { ensureIpipDevice, IPIP_DEVICE, IPIP_OVERHEAD } from './device.js';

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
    const connected = new ConnectedNets();
    if (cfg.directRouting) await connected.refresh(nl, [4]);

    const routeFor = (peer: Lease): RouteDecision => {
      const gw = peer.attrs.publicIP;
      if (!gw) return { skip: 'the lease has no PublicIP' };
      const direct = cfg.directRouting && connected.linkFor(gw) === extIface.iface.index;
      return { dst: peer.subnet!, gw, linkIndex: direct ? extIface.iface.index : dev.index, onlink: true };
    };
    const ensureDevices = async (reasons: readonly string[]): Promise<DeviceCheck> => {
      const now = await nl.linkByName(IPIP_DEVICE);
      let changed = false;
      const repaired: string[] = [];
      if (now?.kind !== 'ipip' || !now.up) {
        logger.warn({ device: IPIP_DEVICE, reasons }, 'ipip device is missing or down; recreating it');
        const before = dev.index;
        dev = await configureDevice(nl, await ensureIpipDevice(nl, local, extIface.iface.mtu, logger), lease, config);
        changed = dev.index !== before;
        repaired.push(IPIP_DEVICE);
      } else if (now.mtu !== extIface.iface.mtu - IPIP_OVERHEAD) {
        logger.warn({ device: IPIP_DEVICE, mtu: now.mtu }, 'ipip device MTU was changed; setting it back');
        await nl.linkSetMtu(now.index, extIface.iface.mtu - IPIP_OVERHEAD);
        repaired.push(IPIP_DEVICE);
      }
      if (cfg.directRouting) changed = (await connected.refresh(nl, [4])) || changed;
      return { replan: changed, repaired };
    };
    const dataplane = new RouteDataplane({ backendType: 'ipip', families: [4], nl, routeFor, ensureDevices, watchedLinks: [IPIP_DEVICE] });
    logger.info({ subnet: String(lease.subnet), device: IPIP_DEVICE, mtu: dev.mtu, directRouting: cfg.directRouting }, 'ipip network ready');
    return reconciledNetwork(this.ctx, { lease, mtu: dev.mtu, config, dataplane });
  }
}

/** The lease's network address as /32 (other addresses inside the cluster network removed), then up. */
async function configureDevice(nl: Netlink, dev: Link, lease: Lease, config: NetworkConfig): Promise<Link> {
  await setHostAddress(nl, dev.index, lease.subnet!.ip, (a) => config.network?.contains(a.ip) === true);
  await nl.linkSetUp(dev.index);
  return (await nl.linkByIndex(dev.index))!;
}
