// flannel0: the TUN device of the udp backend, and the one route that sends the whole network into it.
import { FLANNEL_ROUTE_PROTOCOL, type IP, type IPNet, type Logger, type Netlink } from '@flannel-ts/core';
import { nlconst, setHostAddress, type Link, type NetlinkEvent } from '@flannel-ts/core/netlink';

/** What flannel0 needs beyond rtnetlink: the kernel's /dev/net/tun and settings in flanneld, a fake in the unit tests. */
export interface TunKernel {
  /**
   * Creates `name` (a `%d` in it is numbered by the kernel) as a persistent TUN device without packet
   * information, or attaches to the existing persistent one of that name, and returns a non-blocking queue.
   */
  open(name: string): { fd: number; name: string };
  close(fd: number): void;
  /**
   * Sets the device's net.ipv4.conf.NAME.accept_local to 1 (when it is not), returning whether it changed:
   * the proxy's ICMP net-unreachables come from flannel0's own address, which a kernel since 5.x otherwise
   * drops on input as a martian source, so Go's proxy's answers never reach the pod there.
   */
  acceptLocal(name: string): boolean;
  /** `ip link set NAME txqueuelen LEN`. */
  setTxQueueLen(name: string, len: number): void;
}

/**
 * flannel0's transmit queue, in packets: the kernel's 500 for a TUN overflows whenever the proxy's thread is
 * descheduled for a few milliseconds at a few hundred Mbit/s, and every overflow is a TCP loss (measured on
 * a loaded 2-core box: ~400 Mbit/s with thousands of retransmits at 500, ~600 with none at 2,000). A longer
 * queue costs latency only while it is full (2,000 full-size packets: 40 ms at 600 Mbit/s).
 */
export const TX_QUEUE_LEN = 2000;

/** Go flannel's name pattern: the kernel numbers it, so it is flannel0 unless that is taken. */
export const TUN_NAME_PATTERN = 'flannel%d';
export const TUN_NAME = /^flannel\d+$/;

export interface Flannel0Spec {
  mtu: number;
  /** The lease's network address, flannel0's /32. */
  ip: IP;
  /** The whole flannel network, routed into flannel0. */
  network: IPNet;
}

export interface Repair {
  /** The device had to be made again: the data path must use this queue from now on. */
  newFd?: number;
  /** What was not as we left it, for logs and the repair counter ("device", "address", "route", "mtu", "up"). */
  repaired: string[];
}

const isOurTun = (l: Link) => l.kind === 'tun' && TUN_NAME.test(l.name);

/**
 * flannel0 as Go flannel sets it up (IFF_TUN | IFF_NO_PI, MTU = the interface's − 28, the lease's address
 * as /32, up, `<network> dev flannel0` with scope universe) except that it is persistent: it outlives
 * flanneld, so pods keep their routes across a restart, and a restarted flanneld attaches to it again.
 * `ensure()` puts back whatever someone changed; a deleted device is made again with the same name.
 */
export class Flannel0 {
  name = '';
  index = 0;

  constructor(
    private readonly nl: Netlink,
    private readonly tun: TunKernel,
    private readonly spec: Flannel0Spec,
    private readonly logger: Logger,
  ) {}

  /**
   * Attaches to our device from before a restart (a flannelN TUN holding our address, else any flannelN
   * TUN nobody holds), or makes a new one; then configures it. Returns the queue's fd.
   */
  async open(): Promise<number> {
    const links = (await this.nl.linkList()).filter(isOurTun);
    const withOurAddress = new Set((await this.nl.addrList(4)).filter((a) => a.ip.equals(this.spec.ip) && a.prefixLen === 32).map((a) => a.linkIndex));
    const candidates = [...links.filter((l) => withOurAddress.has(l.index)), ...links.filter((l) => !withOurAddress.has(l.index))];
    let opened: { fd: number; name: string } | undefined;
    for (const link of candidates) {
      try {
        opened = this.tun.open(link.name);
        this.logger.info({ device: link.name }, 'attached to the existing TUN device');
        break;
      } catch (err) {
        this.logger.info({ device: link.name, err: (err as Error).message }, 'cannot attach to this TUN device; trying another');
      }
    }
    opened ??= this.tun.open(TUN_NAME_PATTERN);
    this.name = opened.name;
    try {
      await this.configure();
    } catch (err) {
      this.tun.close(opened.fd);
      throw err;
    }
    return opened.fd;
  }

  /**
   * Makes the device, its address and its route right again; see Repair. With `reattach` (the proxy gave
   * up its queue) a new queue is opened on the device even when the device itself is fine.
   */
  async ensure(o: { reattach?: boolean } = {}): Promise<Repair> {
    const repaired: string[] = [];
    const link = await this.nl.linkByName(this.name);
    if (!link || link.index !== this.index || link.kind !== 'tun') {
      const opened = this.tun.open(this.name);
      repaired.push('device');
      try {
        await this.configure();
      } catch (err) {
        this.tun.close(opened.fd);
        throw err;
      }
      return { newFd: opened.fd, repaired };
    }
    if (link.mtu !== this.spec.mtu) {
      await this.nl.linkSetMtu(link.index, this.spec.mtu);
      repaired.push('mtu');
    }
    if (!link.up) {
      await this.nl.linkSetUp(link.index);
      repaired.push('up');
    }
    if (await this.ensureAddress()) repaired.push('address');
    if (await this.ensureRoute()) repaired.push('route');
    if (this.tun.acceptLocal(this.name)) repaired.push('accept_local');
    // Last, so that a failed repair above leaves no queue open behind it.
    if (!o.reattach) return { repaired };
    repaired.push('queue');
    return { newFd: this.tun.open(this.name).fd, repaired };
  }

  /** Whether a kernel notification concerns what ensure() looks after, and why. */
  classify(ev: NetlinkEvent): string | undefined {
    if (ev.topic === 'link') {
      if (ev.link.name !== this.name && ev.link.index !== this.index) return undefined;
      if (ev.action === 'del') return `${ev.link.name} deleted`;
      if (ev.link.index !== this.index) return `${ev.link.name} replaced`;
      if (!ev.link.up) return `${ev.link.name} down`;
      if (ev.link.mtu !== this.spec.mtu) return `${ev.link.name} MTU changed to ${ev.link.mtu}`;
      return undefined;
    }
    if (ev.action !== 'del') return undefined;
    if (ev.topic === 'addr' && ev.addr.linkIndex === this.index && ev.addr.ip.equals(this.spec.ip)) return `${this.name}'s address deleted`;
    if (
      ev.topic === 'route' &&
      ev.route.dst?.equals(this.spec.network) &&
      (ev.route.linkIndex === this.index || ev.route.protocol === FLANNEL_ROUTE_PROTOCOL)
    ) {
      return `the route of ${this.spec.network} deleted`;
    }
    return undefined;
  }

  private async configure(): Promise<void> {
    const link = await this.nl.linkByName(this.name);
    if (!link) throw new Error(`${this.name} vanished as it was being set up`);
    this.index = link.index;
    this.tun.setTxQueueLen(this.name, TX_QUEUE_LEN);
    if (link.mtu !== this.spec.mtu) await this.nl.linkSetMtu(link.index, this.spec.mtu);
    await this.ensureAddress();
    this.tun.acceptLocal(this.name);
    if (!link.up) await this.nl.linkSetUp(link.index);
    await this.ensureRoute();
  }

  private async ensureAddress(): Promise<boolean> {
    const before = await this.nl.addrList(4, this.index);
    const network = this.spec.network;
    // Other addresses inside the network are an earlier lease's.
    await setHostAddress(this.nl, this.index, this.spec.ip, (a) => network.contains(a.ip));
    const after = await this.nl.addrList(4, this.index);
    return before.length !== after.length || !before.some((a) => a.ip.equals(this.spec.ip) && a.prefixLen === 32);
  }

  private async ensureRoute(): Promise<boolean> {
    const routes = await this.nl.routeList(4, { protocol: FLANNEL_ROUTE_PROTOCOL });
    const ours = routes.find((r) => r.dst?.equals(this.spec.network));
    if (ours && ours.linkIndex === this.index && ours.gw === undefined && (ours.scope ?? nlconst.RT_SCOPE_UNIVERSE) === nlconst.RT_SCOPE_UNIVERSE) return false;
    await this.nl.routeReplace({ dst: this.spec.network, linkIndex: this.index, protocol: FLANNEL_ROUTE_PROTOCOL, scope: nlconst.RT_SCOPE_UNIVERSE });
    return true;
  }
}
