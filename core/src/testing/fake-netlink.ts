import { constants } from 'node:os';
import { Subject, filter, type Observable } from 'rxjs';
import type { Netlink, OpResult } from '../contracts/netlink.js';
import { IP } from '../ip/ip.js';
import { IPNet } from '../ip/ipnet.js';
import type { Addr } from '../netlink/addr.js';
import { NetlinkError } from '../netlink/errors.js';
import type { Link, LinkChange, LinkSpec } from '../netlink/link.js';
import type { MonitorOptions, MonitorTopic, NetlinkEvent } from '../netlink/monitor.js';
import type { FdbEntry, Neigh } from '../netlink/neigh.js';
import type { Nexthop } from '../netlink/nexthop.js';
import { NUD_PERMANENT, RT_SCOPE_LINK, RT_TABLE_MAIN, RTN_UNICAST } from '../netlink/nl/constants.js';

const RTPROT_KERNEL = 2;
import { routeMatches, type Route, type RouteFilter } from '../netlink/route.js';
import * as requests from '../netlink/requests.js';
import type { NetlinkRequest, RequestWhat } from '../netlink/socket/netlink-socket.js';
import type { GenlFamily } from '../netlink/genl.js';
import { wgKeyToBase64, type WgDevice, type WgDeviceConfig, type WgPeer } from '../netlink/wireguard.js';
import { xfrmPolicyKey, type XfrmPolicy, type XfrmPolicySelector } from '../netlink/xfrm.js';

const { EEXIST, ENOENT, ENODEV, EOPNOTSUPP, ESRCH, ENETUNREACH, EPROTONOSUPPORT } = constants.errno;
const XFRM_DIR_BITS: Record<XfrmPolicy['dir'], number> = { in: 0, out: 1, fwd: 2 };

/** A wireguard device's state in the fake kernel: what `wg show` would print. */
export interface FakeWgDevice {
  privateKey?: WgDevice['privateKey'];
  listenPort: number;
  fwmark: number;
  /** Peers by public key (base64). */
  peers: Map<string, WgPeer>;
}

const routeKey = (r: Route) => `${r.table ?? RT_TABLE_MAIN} ${r.dst ?? 'default'}`;
const neighKey = (n: Neigh) => `${n.linkIndex} ${n.ip}`;
const fdbKey = (f: FdbEntry) => `${f.linkIndex} ${f.mac} ${f.dst ?? '-'}`;

/**
 * An in-memory kernel behind the Netlink interface, for unit tests that need no root: links, addresses,
 * routes, neighbours, FDB entries, nexthops, wireguard devices and XFRM policies, with the kernel's add/replace/del semantics and error
 * codes, change notifications on `monitor()`, and a log of every operation in iproute2 words (`ops`).
 * Another actor changing the kernel is a test calling the same methods (`fake.routeDel(...)`).
 */
export class FakeNetlink implements Netlink {
  /** Every operation applied, as `ip route replace 10.244.2.0/24 ...` text. */
  readonly ops: string[] = [];
  readonly links = new Map<number, Link>();
  readonly routes = new Map<string, Route>();
  readonly neighs = new Map<string, Neigh>();
  readonly fdbs = new Map<string, FdbEntry>();
  readonly nexthops = new Map<number, Nexthop>();
  addrs: Addr[] = [];
  /** Linux before 5.3 has no nexthop objects: set false to be such a kernel. */
  nexthopObjects = true;
  /** Set false to be a kernel without wireguard (no device kind, no generic netlink family). */
  wireguard = true;
  /** Wireguard devices by link index (`wg show`). Nothing notifies changes to them, as in the kernel. */
  readonly wgDevices = new Map<number, FakeWgDevice>();
  /** Set false to be a kernel without XFRM netlink (CONFIG_XFRM_USER): every XFRM request fails. */
  xfrm = true;
  /** XFRM policies by xfrmPolicyKey (selector, direction, mark), each with the index the kernel gave it. */
  readonly xfrmPolicies = new Map<string, XfrmPolicy>();
  private nextXfrmIndex = 1;
  private nextIndex = 2;
  private readonly events = new Subject<NetlinkEvent>();
  private readonly failures: { match: RegExp; errno: number; times: number }[] = [];

  constructor() {
    this.links.set(1, { index: 1, name: 'lo', mtu: 65536, flags: 0, up: true, lowerUp: true });
  }

  /** Makes the next `times` operations whose text matches fail with `errno`. */
  failNext(match: RegExp, errno: number, times = 1): void {
    this.failures.push({ match, errno, times });
  }

  /** Creates a plain device (an external interface), up. */
  addDevice(name: string, mtu = 1500): Link {
    const link: Link = { index: this.nextIndex++, name, mtu, flags: 0, up: true, lowerUp: true };
    this.links.set(link.index, link);
    return link;
  }

  /** Gives a device an address and, as the kernel does, the connected route of its subnet. */
  addAddress(linkIndex: number, cidr: string): void {
    const [ip, len] = cidr.split('/') as [string, string];
    const addr = IP.parse(ip);
    this.addrs.push({ linkIndex, ip: addr, prefixLen: Number(len) });
    const dst = new IPNet(addr, Number(len));
    this.routes.set(routeKey({ dst }), { dst, linkIndex, table: RT_TABLE_MAIN, protocol: RTPROT_KERNEL, scope: RT_SCOPE_LINK, type: RTN_UNICAST });
  }

  /** Kernel notifications also reach subscribers of the real thing for changes their owner made. */
  monitor(topics: readonly MonitorTopic[], opts: Pick<MonitorOptions, 'deletionsOnly'> = {}): Observable<NetlinkEvent> {
    const skipNew = new Set(opts.deletionsOnly ?? []);
    return this.events.pipe(filter((ev) => topics.includes(ev.topic) && !(ev.action === 'new' && skipNew.has(ev.topic))));
  }

  /** Simulates the kernel dropping notifications (ENOBUFS): current subscribers get an error. */
  overflowMonitor(): void {
    this.events.error(new NetlinkError('netlink monitor', constants.errno.ENOBUFS));
  }

  async apply(requests: readonly NetlinkRequest[]): Promise<OpResult[]> {
    return requests.map((r) => {
      try {
        this.execute(r.op, r.what);
        return undefined;
      } catch (err) {
        if (err instanceof NetlinkError) return err;
        throw err;
      }
    });
  }

  async linkList(): Promise<Link[]> {
    return [...this.links.values()].map((l) => ({ ...l }));
  }
  async linkByName(name: string): Promise<Link | undefined> {
    const l = [...this.links.values()].find((x) => x.name === name);
    return l && { ...l };
  }
  async linkByIndex(index: number): Promise<Link | undefined> {
    const l = this.links.get(index);
    return l && { ...l };
  }
  async linkAdd(spec: LinkSpec): Promise<Link> {
    this.run(requests.linkAdd(spec));
    return (await this.linkByName(spec.name))!;
  }
  async linkDel(index: number): Promise<void> {
    this.run(requests.linkDel(index));
  }
  async linkSet(index: number, change: LinkChange): Promise<void> {
    this.run(requests.linkSet(index, change));
  }
  linkSetUp(index: number): Promise<void> {
    return this.linkSet(index, { up: true });
  }
  linkSetDown(index: number): Promise<void> {
    return this.linkSet(index, { up: false });
  }
  linkSetMtu(index: number, mtu: number): Promise<void> {
    return this.linkSet(index, { mtu });
  }
  /** The TX checksum offload each device was last set to (`ethtool -K NAME tx on|off`). */
  readonly txChecksum = new Map<string, boolean>();
  async linkSetTxChecksum(name: string, on: boolean): Promise<void> {
    if (![...this.links.values()].some((l) => l.name === name)) throw new Error(`ethtool -K ${name}: no such device`);
    this.txChecksum.set(name, on);
    this.ops.push(`ethtool -K ${name} tx ${on ? 'on' : 'off'}`);
  }
  linkSetHardwareAddr(index: number, mac: NonNullable<LinkChange['mac']>): Promise<void> {
    return this.linkSet(index, { mac });
  }
  linkSetMaster(index: number, masterIndex: number): Promise<void> {
    return this.linkSet(index, { masterIndex });
  }

  async addrList(family?: 4 | 6, linkIndex?: number): Promise<Addr[]> {
    return this.addrs.filter((a) => (family === undefined || a.ip.family === family) && (linkIndex === undefined || a.linkIndex === linkIndex));
  }
  async addrAdd(a: Addr): Promise<void> {
    this.run(requests.addrAdd(a));
  }
  async addrReplace(a: Addr): Promise<void> {
    this.run(requests.addrReplace(a));
  }
  async addrDel(a: Addr): Promise<void> {
    this.run(requests.addrDel(a));
  }

  async routeList(family: 4 | 6, f: RouteFilter = {}): Promise<Route[]> {
    return [...this.routes.values()].filter((r) => (r.dst?.family ?? r.family ?? 4) === family && routeMatches(r, f)).map((r) => ({ ...r }));
  }
  async routeAdd(r: Route): Promise<void> {
    this.run(requests.routeAdd(r));
  }
  async routeReplace(r: Route): Promise<void> {
    this.run(requests.routeReplace(r));
  }
  async routeDel(r: Route): Promise<void> {
    this.run(requests.routeDel(r));
  }
  /** The most specific route that contains `dst`. */
  async routeGet(dst: IP): Promise<Route> {
    const best = [...this.routes.values()]
      .filter((r) => r.dst?.contains(dst) && (r.table ?? RT_TABLE_MAIN) === RT_TABLE_MAIN)
      .sort((a, b) => b.dst!.prefixLen - a.dst!.prefixLen)[0];
    if (!best) throw new NetlinkError(`ip route get ${dst}`, ENETUNREACH);
    return { ...best };
  }

  async nexthopList(): Promise<Nexthop[]> {
    if (!this.nexthopObjects) throw new NetlinkError('ip nexthop show', constants.errno.EOPNOTSUPP);
    return [...this.nexthops.values()].map((n) => ({ ...n }));
  }
  async nexthopReplace(nh: Nexthop): Promise<void> {
    this.run(requests.nexthopReplace(nh));
  }
  async nexthopDel(id: number): Promise<void> {
    this.run(requests.nexthopDel({ id }));
  }

  async neighList(linkIndex: number, family: 4 | 6 = 4): Promise<Neigh[]> {
    return [...this.neighs.values()].filter((n) => n.linkIndex === linkIndex && n.ip.family === family).map((n) => ({ ...n }));
  }
  async neighSet(n: Neigh): Promise<void> {
    this.run(requests.neighSet(n));
  }
  async neighAdd(n: Neigh): Promise<void> {
    this.run(requests.neighAdd(n));
  }
  async neighDel(n: Neigh): Promise<void> {
    this.run(requests.neighDel(n));
  }
  async fdbList(linkIndex: number): Promise<FdbEntry[]> {
    return [...this.fdbs.values()].filter((f) => f.linkIndex === linkIndex).map((f) => ({ ...f }));
  }
  async fdbAppend(f: FdbEntry): Promise<void> {
    this.run(requests.fdbAppend(f));
  }
  async fdbReplace(f: FdbEntry): Promise<void> {
    this.run(requests.fdbReplace(f));
  }
  async fdbDel(f: FdbEntry): Promise<void> {
    this.run(requests.fdbDel(f));
  }

  async genlFamily(name: string): Promise<GenlFamily> {
    const known: Record<string, number> = { nlctrl: 0x10, ...(this.wireguard ? { wireguard: 0x20 } : {}) };
    const id = known[name];
    if (id === undefined) throw new NetlinkError(`genl ctrl get name ${name}`, ENOENT);
    return { name, id, version: 1, hdrSize: 0, maxAttr: 8, mcastGroups: {} };
  }

  async wgGetDevice(device: string | number): Promise<WgDevice> {
    const op = `wg show ${typeof device === 'number' ? `#${device}` : device}`;
    const [index, dev] = this.wgDevice(device, (errno) => new NetlinkError(op, errno));
    const link = this.links.get(index)!;
    return {
      ifindex: index,
      name: link.name,
      ...(dev.privateKey ? { privateKey: dev.privateKey } : {}),
      listenPort: dev.listenPort,
      fwmark: dev.fwmark,
      peers: [...dev.peers.values()].map((p) => ({ ...p, publicKey: Buffer.from(p.publicKey), allowedIPs: [...p.allowedIPs] })),
    };
  }

  async wgSetDevice(config: WgDeviceConfig): Promise<void> {
    for (const r of requests.wgSetDevice(config)) this.run(r);
  }

  async xfrmPolicyList(family?: 4 | 6): Promise<XfrmPolicy[]> {
    if (!this.xfrm) throw new NetlinkError('ip xfrm policy show', EPROTONOSUPPORT);
    return [...this.xfrmPolicies.values()].filter((p) => family === undefined || p.src.family === family).map(copyXfrmPolicy);
  }
  async xfrmPolicyUpdate(p: XfrmPolicy): Promise<void> {
    this.run(requests.xfrmPolicyUpdate(p));
  }
  async xfrmPolicyDel(p: XfrmPolicySelector): Promise<void> {
    this.run(requests.xfrmPolicyDel(p));
  }
  /** `ip xfrm policy flush`, by someone else: every policy goes, with one 'flush' notification. */
  xfrmPolicyFlush(): void {
    this.ops.push('ip xfrm policy flush');
    this.xfrmPolicies.clear();
    this.events.next({ topic: 'xfrm-policy', action: 'flush' });
  }

  /** What the kernel would count for a peer (`wg show` transfer and latest handshake), for tests. */
  setWgPeerTraffic(index: number, publicKey: string, t: { rxBytes: bigint; txBytes: bigint; latestHandshake?: Date }): void {
    const peer = this.wgDevices.get(index)?.peers.get(publicKey);
    if (!peer) throw new Error(`no wireguard peer ${publicKey} on #${index}`);
    Object.assign(peer, t);
  }

  private wgDevice(device: string | number, fail: (errno: number) => NetlinkError): [number, FakeWgDevice] {
    const link = typeof device === 'number' ? this.links.get(device) : [...this.links.values()].find((l) => l.name === device);
    if (!link) throw fail(ENODEV);
    const dev = this.wgDevices.get(link.index);
    if (!dev) throw fail(EOPNOTSUPP);
    return [link.index, dev];
  }

  /** WG_CMD_SET_DEVICE with the kernel's semantics: an allowed IP belongs to one peer, so adding it moves it. */
  private applyWireguard(c: WgDeviceConfig, fail: (errno: number) => NetlinkError): void {
    const [, dev] = this.wgDevice(c.device, fail);
    if (c.privateKey !== undefined) {
      if (c.privateKey && !c.privateKey.isZero()) dev.privateKey = c.privateKey;
      else delete dev.privateKey;
    }
    if (c.listenPort !== undefined) dev.listenPort = c.listenPort || 40000 + Math.floor(Math.random() * 20000);
    if (c.fwmark !== undefined) dev.fwmark = c.fwmark;
    if (c.replacePeers) dev.peers.clear();
    for (const p of c.peers ?? []) {
      const key = wgKeyToBase64(p.publicKey);
      let peer = dev.peers.get(key);
      if (p.remove) {
        dev.peers.delete(key);
        continue;
      }
      if (!peer && p.updateOnly) continue;
      if (!peer) {
        peer = { publicKey: Buffer.from(p.publicKey), persistentKeepalive: 0, rxBytes: 0n, txBytes: 0n, allowedIPs: [], protocolVersion: 1 };
        dev.peers.set(key, peer);
      }
      if (p.presharedKey !== undefined) {
        if (p.presharedKey && !p.presharedKey.isZero()) peer.presharedKey = p.presharedKey;
        else delete peer.presharedKey;
      }
      if (p.endpoint) peer.endpoint = { ...p.endpoint };
      if (p.persistentKeepalive !== undefined) peer.persistentKeepalive = p.persistentKeepalive;
      if (p.replaceAllowedIPs) peer.allowedIPs = [];
      for (const ip of p.allowedIPs ?? []) {
        const net = new IPNet(ip.ip, ip.prefixLen);
        for (const other of dev.peers.values()) other.allowedIPs = other.allowedIPs.filter((n) => !n.equals(net));
        peer.allowedIPs.push(net);
      }
    }
  }

  private run(request: NetlinkRequest): void {
    this.execute(request.op, request.what);
  }

  private execute(op: string, what: RequestWhat | undefined): void {
    this.ops.push(op);
    const failure = this.failures.find((f) => f.match.test(op) && f.times > 0);
    if (failure) {
      failure.times--;
      throw new NetlinkError(op, failure.errno);
    }
    if (!what) throw new Error(`FakeNetlink cannot apply "${op}": the request does not describe itself`);
    const fail = (errno: number) => new NetlinkError(op, errno);
    switch (what.object) {
      case 'link':
        return this.applyLink(what, fail);
      case 'addr': {
        const a = what.value as Addr;
        const i = this.addrs.findIndex((x) => x.linkIndex === a.linkIndex && x.ip.equals(a.ip) && x.prefixLen === a.prefixLen);
        if (what.verb === 'del') {
          if (i < 0) throw fail(EADDRNOTAVAIL);
          this.addrs.splice(i, 1);
        } else if (i >= 0) {
          if (what.verb === 'add') throw fail(EEXIST);
        } else {
          this.addrs.push({ ...a });
        }
        return;
      }
      case 'route': {
        const r = what.value as Route;
        return this.upsert(this.routes, routeKey(r), { ...r, table: r.table ?? RT_TABLE_MAIN }, what.verb, fail, ESRCH, (x, action) => ({
          topic: 'route',
          action,
          route: x,
        }));
      }
      case 'neigh': {
        const n = what.value as Neigh;
        return this.upsert(this.neighs, neighKey(n), { ...n, state: n.state ?? NUD_PERMANENT }, what.verb, fail, ENOENT, (x, action) => ({
          topic: 'neigh',
          action,
          neigh: x,
        }));
      }
      case 'fdb': {
        const f = what.value as FdbEntry;
        return this.upsert(this.fdbs, fdbKey(f), { ...f, state: f.state ?? NUD_PERMANENT }, what.verb, fail, ENOENT, (x, action) => ({
          topic: 'neigh',
          action,
          fdb: x,
        }));
      }
      case 'wireguard':
        return this.applyWireguard(what.value as WgDeviceConfig, fail);
      case 'xfrm-policy':
        return this.applyXfrmPolicy(what, fail);
      case 'nexthop': {
        const nh = what.value as Nexthop;
        if (what.verb === 'del') {
          if (!this.nexthops.delete(nh.id)) throw fail(ENOENT);
          // Deleting a nexthop takes the routes that use it along, as in the kernel.
          for (const [k, r] of this.routes) if (r.nhid === nh.id) this.removeRoute(k, r);
          return;
        }
        this.nexthops.set(nh.id, { ...nh });
        return;
      }
    }
  }

  /** UPDPOLICY keeps a replaced policy's index; a new one gets the next, its low 3 bits the direction. */
  private applyXfrmPolicy(what: RequestWhat, fail: (errno: number) => NetlinkError): void {
    if (!this.xfrm) throw fail(EPROTONOSUPPORT);
    const p = what.value as XfrmPolicy;
    const key = xfrmPolicyKey(p);
    const existing = this.xfrmPolicies.get(key);
    if (what.verb === 'del') {
      if (!existing) throw fail(ENOENT);
      this.xfrmPolicies.delete(key);
      this.events.next({ topic: 'xfrm-policy', action: 'del', policy: copyXfrmPolicy(existing) });
      return;
    }
    const index = existing?.index ?? this.nextXfrmIndex++ * 8 + XFRM_DIR_BITS[p.dir];
    const policy: XfrmPolicy = { ...copyXfrmPolicy(p), priority: p.priority ?? 0, index };
    if (policy.action !== 'block') delete policy.action;
    this.xfrmPolicies.set(key, policy);
    this.events.next({ topic: 'xfrm-policy', action: 'new', policy: copyXfrmPolicy(policy) });
  }

  private upsert<T>(
    map: Map<string, T>,
    key: string,
    value: T,
    verb: RequestWhat['verb'],
    fail: (errno: number) => NetlinkError,
    missing: number,
    event: (x: T, action: 'new' | 'del') => NetlinkEvent,
  ): void {
    const existing = map.get(key);
    if (verb === 'del') {
      if (!existing) throw fail(missing);
      map.delete(key);
      this.events.next(event(existing, 'del'));
      return;
    }
    if (existing && verb === 'add') throw fail(EEXIST);
    map.set(key, value);
    this.events.next(event(value, 'new'));
  }

  private removeRoute(key: string, r: Route): void {
    this.routes.delete(key);
    this.events.next({ topic: 'route', action: 'del', route: r });
  }

  private applyLink(what: RequestWhat, fail: (errno: number) => NetlinkError): void {
    if (what.verb === 'add') {
      const spec = what.value as LinkSpec;
      if ([...this.links.values()].some((l) => l.name === spec.name)) throw fail(EEXIST);
      const link: Link = {
        index: this.nextIndex++,
        name: spec.name,
        mtu: spec.mtu ?? 1500,
        flags: 0,
        up: false,
        lowerUp: false,
        kind: spec.kind,
        mac: spec.mac,
      };
      if (spec.kind === 'vxlan') link.vxlan = { learning: false, gbp: false, l2miss: false, l3miss: false, ...spec.vxlan };
      if (spec.kind === 'ipip') link.ipip = { ...spec.ipip };
      if (spec.kind === 'geneve') {
        const g = spec.geneve;
        link.geneve = { vni: g.vni ?? 0, port: g.port ?? 6081, external: g.external ?? false, innerProtoInherit: g.innerProtoInherit ?? false };
        if (g.remote) link.geneve.remote = g.remote;
      }
      if (spec.kind === 'wireguard') {
        if (!this.wireguard) throw fail(EOPNOTSUPP);
        link.mtu = spec.mtu ?? 1420;
        this.wgDevices.set(link.index, { listenPort: 0, fwmark: 0, peers: new Map() });
      }
      this.links.set(link.index, link);
      this.events.next({ topic: 'link', action: 'new', link: { ...link } });
      return;
    }
    if (what.verb === 'del') {
      const index = what.value as number;
      const link = this.links.get(index);
      if (!link) throw fail(ENODEV);
      this.links.delete(index);
      // Everything on the device goes with it, each with its own notification, as the kernel sends them.
      const nhids = new Set([...this.nexthops.values()].filter((nh) => nh.linkIndex === index).map((nh) => nh.id));
      for (const [k, r] of this.routes) if (r.linkIndex === index || (r.nhid !== undefined && nhids.has(r.nhid))) this.removeRoute(k, r);
      for (const [k, n] of this.neighs) {
        if (n.linkIndex !== index) continue;
        this.neighs.delete(k);
        this.events.next({ topic: 'neigh', action: 'del', neigh: n });
      }
      for (const [k, f] of this.fdbs) {
        if (f.linkIndex !== index) continue;
        this.fdbs.delete(k);
        this.events.next({ topic: 'neigh', action: 'del', fdb: f });
      }
      for (const [id, nh] of this.nexthops) if (nh.linkIndex === index) this.nexthops.delete(id);
      this.wgDevices.delete(index);
      this.addrs = this.addrs.filter((a) => a.linkIndex !== index);
      this.events.next({ topic: 'link', action: 'del', link });
      return;
    }
    const { index, change } = what.value as { index: number; change: LinkChange };
    const link = this.links.get(index);
    if (!link) throw fail(ENODEV);
    if (change.up !== undefined) link.up = link.lowerUp = change.up;
    if (change.mtu !== undefined) link.mtu = change.mtu;
    if (change.mac !== undefined) link.mac = change.mac;
    if (change.masterIndex !== undefined) link.masterIndex = change.masterIndex || undefined;
    if (change.name !== undefined) link.name = change.name;
    this.events.next({ topic: 'link', action: 'new', link: { ...link } });
  }
}

const EADDRNOTAVAIL = constants.errno.EADDRNOTAVAIL;

/** A copy, in the shape the kernel reports it: no zero SPI, no zero mark. */
function copyXfrmPolicy(p: XfrmPolicy): XfrmPolicy {
  const copy: XfrmPolicy = { ...p, tmpls: p.tmpls.map(({ spi, ...t }) => (spi ? { ...t, spi } : t)) };
  if (p.mark && (p.mark.value || p.mark.mask)) copy.mark = { ...p.mark };
  else delete copy.mark;
  return copy;
}
