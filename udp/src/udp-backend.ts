// The udp backend: flannel's userspace encapsulation, wire-compatible with Go flannel's.
//
// Every node has a TUN device, flannel0 (IFF_TUN | IFF_NO_PI, MTU = the interface's − 28), holding the
// lease's address as /32, and one route, `<network> dev flannel0`: everything for another node's pods is read
// from flannel0 by a proxy, looked up by destination in a table of peer subnets (one lease = one subnet →
// PublicIP:Port), and sent as the payload of a UDP datagram to that peer's port (8285): the payload is the
// inner IP packet, nothing else. Datagrams received on the port are written to flannel0. This is Go's
// wire format, so Go and flannel-ts udp nodes are peers.
//
// Go's udp leases carry no BackendType; ours carry "udp", and a lease with either is taken as a udp peer.
import { release } from 'node:os';
import { UserError, type Backend, type BackendContext, type LeaseAttrs, type Network, type NetworkConfig } from '@flannel-ts/core';
import { closeTun, sysctlGet, sysctlSet, tunOpen } from '@flannel-ts/core/netlink';
import { parseUdpConfig } from './config.js';
import { WorkerDataPath, type DataPath, type DataPathInit } from './data-path.js';
import { Flannel0, type TunKernel } from './device.js';
import { UDP_OVERHEAD } from './ipv4.js';
import { closeFd, openUdpSocket, setTxQueueLen, type UdpSocket } from './native.js';
import { prefixMask } from './peer-table.js';
import { udpNetwork, type UdpTiming } from './udp-network.js';

/** Socket buffers: about 2,000 full-size datagrams each way wait in the kernel while the worker is descheduled. */
const SOCKET_BUFFER_BYTES = 4 << 20;

/** What the backend touches outside netlink: the kernel in flanneld, fakes in the unit tests. */
export interface UdpIo {
  tun: TunKernel;
  openSocket(ip: number, port: number): UdpSocket;
  closeFd(fd: number): void;
  dataPath(init: DataPathInit): DataPath;
  /** Whether this kernel cuts UDP GSO messages into datagrams (4.18+); an older one would send them whole. */
  gso: boolean;
}

/** UDP_SEGMENT arrived in Linux 4.18. */
export function kernelHasUdpGso(kernelRelease: string): boolean {
  const m = /^(\d+)\.(\d+)/.exec(kernelRelease);
  if (!m) return false;
  const [major, minor] = [Number(m[1]), Number(m[2])];
  return major > 4 || (major === 4 && minor >= 18);
}

export const kernelIo: UdpIo = {
  tun: {
    open: (name) => tunOpen(name, { persist: true, nonBlocking: true }),
    close: (fd) => closeTun({ fd, name: '' }),
    acceptLocal: (name) => {
      const key = `net/ipv4/conf/${name}/accept_local`;
      if (sysctlGet(key) === '1') return false;
      sysctlSet(key, 1);
      return true;
    },
    setTxQueueLen,
  },
  openSocket: (ip, port) => openUdpSocket(ip, port, SOCKET_BUFFER_BYTES),
  closeFd,
  dataPath: (init) => new WorkerDataPath(init),
  gso: kernelHasUdpGso(release()),
};

export class UdpBackend implements Backend {
  constructor(
    private readonly ctx: BackendContext,
    private readonly io: UdpIo = kernelIo,
    private readonly timing?: Partial<UdpTiming>,
  ) {}

  async registerNetwork(config: NetworkConfig, signal: AbortSignal): Promise<Network> {
    const { extIface, logger, netlink: nl, subnetManager } = this.ctx;
    const cfg = parseUdpConfig(config.backend, logger);
    if (config.enableIPv6 || !config.enableIPv4 || !config.network) {
      throw new UserError('EnableIPv6', 'the udp backend carries IPv4 only', 'leave IPv6 off (EnableIPv6: false), or use the vxlan backend for IPv6');
    }
    if (!extIface.extAddr) throw new UserError('--iface', `${extIface.iface.name} has no IPv4 address`, 'pick an interface with one, or set --public-ip');
    const mtu = extIface.iface.mtu - UDP_OVERHEAD;

    // The socket before the lease, so that a port in use costs no lease. Go binds the interface's own
    // address (not --public-ip, which may be a NAT's).
    const bindIP = extIface.ifaceAddr ?? extIface.extAddr;
    let socket: UdpSocket;
    try {
      socket = this.io.openSocket(Number(bindIP.value), cfg.port);
    } catch (err) {
      throw new UserError(
        'Backend.Port',
        `failed to start listening on UDP socket ${bindIP}:${cfg.port}: ${(err as Error).message}`,
        `free the port, or set Backend.Port to another one (the same on every node)`,
      );
    }

    let tunFd = -1;
    try {
      const attrs: LeaseAttrs = { publicIP: extIface.extAddr, backendType: 'udp' };
      const lease = await subnetManager.acquireLease(attrs, signal);
      const subnet = lease.subnet;
      if (!subnet) throw new Error('the lease has no IPv4 subnet');
      const device = new Flannel0(nl, this.io.tun, { mtu, ip: subnet.ip, network: config.network }, logger);
      tunFd = await device.open();
      const gso = this.io.gso;
      const dataPath = this.io.dataPath({
        tunFd,
        udpFd: socket.fd,
        ownNet: Number(subnet.ip.value),
        ownMask: prefixMask(subnet.prefixLen),
        tunIp: Number(subnet.ip.value),
        mtu,
        gso,
      });
      logger.info(
        { subnet: String(subnet), device: device.name, mtu, port: cfg.port, listen: `${bindIP}:${cfg.port}`, gso, gro: socket.gro },
        'udp network ready',
      );
      return udpNetwork(this.ctx, {
        lease,
        mtu,
        config,
        port: cfg.port,
        device,
        dataPath,
        details: { gso, gro: socket.gro, listen: `${bindIP}:${cfg.port}` },
        ...(this.timing ? { timing: this.timing } : {}),
      });
    } catch (err) {
      this.io.closeFd(socket.fd);
      if (tunFd >= 0) this.io.tun.close(tunFd);
      throw err;
    }
  }
}
