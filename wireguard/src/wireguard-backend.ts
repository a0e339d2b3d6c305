// The wireguard backend, wire-compatible with Go flannel's (since v0.16): the same devices (flannel-wg, and
// flannel-wg-v6 in separate mode), ports, key file and lease data ({"PublicKey": …, "Port": …} per family),
// so that flannel-ts and Go flannel nodes are peers. Pod traffic to another node's subnet is routed into
// the device (one route to the whole network, scope link); WireGuard picks the peer whose allowed IPs hold
// the destination, encrypts, and sends it as UDP to the peer's endpoint. Peers are kept in step by core's
// reconciliation engine: each is a kernel entry written over generic netlink (no `wg` binary).
//
// Unlike Go flannel, a device that exists is reused, not deleted (pods keep their traffic across a restart),
// and the devices are left in place on shutdown like every flannel-ts backend's; a device or peer that
// someone removes comes back; device MTUs follow the underlay's family.
import { reconciledNetwork, UserError, type Backend, type BackendContext, type LeaseAttrs, type Network, type NetworkConfig } from '@flannel-ts/core';
import { wgKeyToBase64 } from '@flannel-ts/core/netlink';
import { parseWireguardConfig, type WireguardConfig } from './config.js';
import { configureWg, DEVICE_NAMES, deviceSpecs, ensureWgLink, setupDevice, type WgDeviceState } from './device.js';
import { keyFilePath, loadOrCreateKey, publicKeyOf } from './keys.js';
import { leaseData } from './peer.js';
import { WireguardDataplane } from './wireguard-dataplane.js';

export class WireguardBackend implements Backend {
  constructor(private readonly ctx: BackendContext) {}

  async registerNetwork(config: NetworkConfig, signal: AbortSignal): Promise<Network> {
    const { extIface, logger, netlink: nl, subnetManager } = this.ctx;
    const cfg = parseWireguardConfig(config.backend, logger);
    if (!nl.wgSetDevice || !nl.wgGetDevice) {
      throw new UserError(
        'Backend.Type',
        "this flanneld's netlink cannot configure WireGuard (generic netlink)",
        'run the wireguard backend on a flanneld of backend contract 1.3 or later',
      );
    }
    checkAddresses(cfg, config, extIface.extAddr !== undefined, extIface.extV6Addr !== undefined, extIface.iface.name);
    const specs = deviceSpecs(cfg, config, extIface.iface.mtu, extIface.extV6Addr !== undefined);
    const podMtu = Math.min(...specs.map((s) => s.mtu));
    logger.info({ devices: specs.map((s) => ({ device: s.name, mtu: s.mtu, why: s.mtuReason })), podMtu }, 'wireguard MTU');

    const keyFile = keyFilePath();
    const { key } = loadOrCreateKey(keyFile, logger);
    const publicKey = publicKeyOf(key);

    // Devices of another mode (flannel-wg-v6 after a switch to auto) would keep their peers and routes.
    for (const name of DEVICE_NAMES) {
      if (specs.some((s) => s.name === name)) continue;
      const stale = await nl.linkByName(name);
      if (stale?.kind !== 'wireguard') continue;
      logger.info({ device: name, mode: cfg.mode }, 'removing a wireguard device this mode does not use');
      await nl.linkDel(stale.index);
    }
    // The devices exist before the lease, so that a kernel without WireGuard or a port in use costs no lease.
    const devices: WgDeviceState[] = [];
    for (const spec of specs) {
      const dev: WgDeviceState = { spec, link: await ensureWgLink(nl, spec, logger) };
      await configureWg(nl, dev, key);
      devices.push(dev);
    }

    const attrs: LeaseAttrs = { backendType: 'wireguard' };
    if (extIface.extAddr) attrs.publicIP = extIface.extAddr;
    if (extIface.extV6Addr) attrs.publicIPv6 = extIface.extV6Addr;
    const v4Port = cfg.listenPort;
    const v6Port = cfg.mode === 'separate' ? cfg.listenPortV6 : cfg.listenPort;
    if (config.enableIPv4) attrs.backendData = leaseData(publicKey, v4Port);
    if (config.enableIPv6) attrs.backendV6Data = leaseData(publicKey, v6Port);
    const lease = await subnetManager.acquireLease(attrs, signal);

    for (const dev of devices) dev.link = await setupDevice(nl, dev, lease, config);
    const dataplane = new WireguardDataplane(devices, {
      nl,
      logger,
      config,
      lease,
      cfg,
      key,
      ours: { v4: extIface.extAddr, v6: extIface.extV6Addr },
    });
    logger.info(
      {
        subnet: lease.subnet?.toString(),
        ipv6Subnet: lease.ipv6Subnet?.toString(),
        mode: cfg.mode,
        devices: devices.map((d) => `${d.spec.name}:${d.spec.listenPort}`),
        publicKey: wgKeyToBase64(publicKey),
        mtu: podMtu,
      },
      'wireguard network ready',
    );
    const details = {
      wireguard: `${cfg.mode} mode; public key ${wgKeyToBase64(publicKey)}; private key in ${keyFile}${cfg.psk ? '; with a pre-shared key' : ''}`,
      devices: devices.map((d) => `${d.spec.name} port ${d.spec.listenPort} MTU ${d.spec.mtu} (${d.spec.mtuReason})`).join(', '),
    };
    return reconciledNetwork(this.ctx, { lease, mtu: podMtu, config, dataplane, details: () => details, peerTraffic: () => dataplane.peerTraffic() });
  }
}

/** Each device needs the underlay address its mode reaches peers over. */
function checkAddresses(cfg: WireguardConfig, config: NetworkConfig, hasV4: boolean, hasV6: boolean, iface: string): void {
  const need = (family: 4 | 6, why: string) => {
    if (family === 4 ? hasV4 : hasV6) return;
    throw new UserError(
      '--iface',
      `${iface} has no IPv${family} address, which ${why}`,
      `pick an interface with one, or set --public-ip${family === 6 ? 'v6' : ''}`,
    );
  };
  if (cfg.mode === 'separate') {
    if (config.enableIPv4) need(4, 'IPv4 pods travel over in separate mode');
    if (config.enableIPv6) need(6, 'IPv6 pods travel over in separate mode');
    if (config.enableIPv4 && config.enableIPv6 && cfg.listenPort === cfg.listenPortV6) {
      throw new UserError(
        'Backend.ListenPortV6',
        `${cfg.listenPortV6} is also ListenPort; separate mode has two devices, and each needs its own port`,
        'give ListenPortV6 another port',
      );
    }
  }
  if (cfg.mode === 'ipv4') need(4, 'ipv4 mode reaches every peer over');
  if (cfg.mode === 'ipv6') need(6, 'ipv6 mode reaches every peer over');
  if (cfg.mode === 'auto' && !hasV4 && !hasV6) need(4, 'auto mode needs one of');
}
