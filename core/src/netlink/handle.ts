import { constants } from 'node:os';
import type { Observable } from 'rxjs';
import type { Netlink, OpResult } from '../contracts/netlink.js';
import type { IP } from '../ip/ip.js';
import { decodeAddr, encodeAddrDump, type Addr } from './addr.js';
import { NetlinkError } from './errors.js';
import { checkLinkName, decodeLink, writeIfinfomsg, type Link, type LinkChange, type LinkSpec } from './link.js';
import { decodeFdb, decodeNeigh, encodeNeighDump, type FdbEntry, type Neigh } from './neigh.js';
import {
  AF_BRIDGE,
  AF_INET,
  AF_INET6,
  AF_UNSPEC,
  IFLA_IFNAME,
  NETLINK_GENERIC,
  NETLINK_XFRM,
  RTM_GETADDR,
  RTM_GETLINK,
  RTM_GETNEIGH,
  RTM_GETNEXTHOP,
  RTM_GETROUTE,
  WG_GENL_NAME,
  XFRM_MSG_GETPOLICY,
} from './nl/constants.js';
import { decodeGenlFamily, genlGetFamily, resolveGenlRequest, type GenlFamily } from './genl.js';
import {
  decodeEthtoolFeatures,
  ETHTOOL_GENL_NAME,
  ethtoolFeaturesGet,
  ethtoolFeaturesSet,
  txChecksumProblem,
  txChecksumWanted,
  type EthtoolFeatures,
} from './ethtool.js';
import { ioctlSetTxChecksum } from './ethtool-ioctl.js';
import { decodeWgDevice, encodeWgGetDevice, type WgDevice, type WgDeviceConfig } from './wireguard.js';
import * as req from './requests.js';
import { decodeXfrmPolicy, type XfrmPolicy, type XfrmPolicySelector } from './xfrm.js';
import { decodeNexthop, encodeNexthopDump, type Nexthop } from './nexthop.js';
import { netlinkMonitor, type MonitorOptions, type MonitorTopic, type NetlinkEvent } from './monitor.js';
import { decodeRoute, encodeRouteDump, encodeRouteGet, routeMatches, type Route, type RouteFilter } from './route.js';
import { NetlinkSocket, type NetlinkRequest, type NetlinkSocketOptions } from './socket/netlink-socket.js';

export type { OpResult } from '../contracts/netlink.js';

/**
 * An rtnetlink handle, bound to one network namespace for its whole life. Method names mirror iproute2
 * (`routeReplace` is `ip route replace`). Single operations throw NetlinkError; `apply` runs a batch and
 * returns a result per operation. Generic netlink (wireguard) and XFRM (IPsec policies) go over sockets of
 * their own, each opened on first use.
 */
export class NetlinkHandle implements Netlink {
  private genlSock: NetlinkSocket | undefined;
  private xfrmSock: NetlinkSocket | undefined;
  private readonly families = new Map<string, GenlFamily>();

  private constructor(
    private readonly sock: NetlinkSocket,
    readonly netns: string | undefined,
    private readonly timeoutMs: number | undefined,
  ) {}

  /** A handle on the current namespace, or on `netns` (a name under /var/run/netns, or a path). */
  static open(opts: NetlinkSocketOptions = {}): NetlinkHandle {
    return new NetlinkHandle(NetlinkSocket.open(opts), opts.netns, opts.timeoutMs);
  }

  close(): void {
    this.sock.close();
    this.genlSock?.close();
    this.xfrmSock?.close();
  }

  /**
   * Runs the requests as batches (one sendto per batch), in order; one result per request. Generic netlink
   * requests (`genlFamily` set) go to the generic socket with their family's id; a family the kernel does
   * not know fails each of its requests with ENOENT. XFRM requests (`protocol` NETLINK_XFRM) go to the
   * XFRM socket. Each run of consecutive requests for one socket is sent before the next run starts.
   */
  async apply(requests: readonly NetlinkRequest[]): Promise<OpResult[]> {
    if (!requests.some((r) => channelOf(r) !== 'route')) return this.sock.execute(requests);
    const results: OpResult[] = [];
    for (let i = 0; i < requests.length;) {
      const channel = channelOf(requests[i]!);
      let j = i + 1;
      while (j < requests.length && channelOf(requests[j]!) === channel) j++;
      const run = requests.slice(i, j);
      if (channel === 'genl') results.push(...(await this.applyGeneric(run)));
      else if (channel === 'xfrm') results.push(...(await this.applyXfrm(run)));
      else results.push(...(await this.sock.execute(run)));
      i = j;
    }
    return results;
  }

  private async applyGeneric(requests: readonly NetlinkRequest[]): Promise<OpResult[]> {
    const resolved: (NetlinkRequest | NetlinkError)[] = [];
    for (const r of requests) {
      try {
        resolved.push(resolveGenlRequest(r, await this.genlFamily(r.genlFamily!)));
      } catch (err) {
        if (!(err instanceof NetlinkError)) throw err;
        resolved.push(new NetlinkError(r.op, err.errno, err.extAck ?? `generic netlink family ${r.genlFamily} not available`));
      }
    }
    const sendable = resolved.filter((r): r is NetlinkRequest => !(r instanceof NetlinkError));
    const sent = await this.genl().execute(sendable);
    let k = 0;
    const results = resolved.map((r) => (r instanceof NetlinkError ? r : sent[k++]));
    // ENOENT from the generic socket is an unknown family id: the family was reloaded; look it up again.
    results.forEach((r, n) => {
      if (r?.code === 'ENOENT') this.families.delete(requests[n]!.genlFamily!);
    });
    return results;
  }

  /** A kernel without XFRM netlink fails each request, as an unknown generic family does, instead of the batch. */
  private async applyXfrm(requests: readonly NetlinkRequest[]): Promise<OpResult[]> {
    let sock: NetlinkSocket;
    try {
      sock = this.xfrm(requests[0]!.op);
    } catch (err) {
      if (!(err instanceof NetlinkError)) throw err;
      return requests.map((r) => new NetlinkError(r.op, err.errno, err.extAck));
    }
    return sock.execute(requests);
  }

  private genl(): NetlinkSocket {
    this.genlSock ??= this.openSocket(NETLINK_GENERIC);
    return this.genlSock;
  }

  /** The XFRM socket; `op` names what needed it when the kernel has none. */
  private xfrm(op: string): NetlinkSocket {
    try {
      this.xfrmSock ??= this.openSocket(NETLINK_XFRM);
    } catch (err) {
      if (!(err instanceof NetlinkError)) throw err;
      const why = err.code === 'EPROTONOSUPPORT' ? 'this kernel has no XFRM netlink (CONFIG_XFRM_USER)' : `cannot open the XFRM netlink socket: ${err.message}`;
      throw new NetlinkError(op, err.errno, why);
    }
    return this.xfrmSock;
  }

  private openSocket(protocol: number): NetlinkSocket {
    return NetlinkSocket.open({
      protocol,
      ...(this.netns ? { netns: this.netns } : {}),
      ...(this.timeoutMs ? { timeoutMs: this.timeoutMs } : {}),
    });
  }

  // Generic netlink

  /** `genl ctrl get name NAME`: the family's id and version; NetlinkError ENOENT if the kernel has no such family. */
  async genlFamily(name: string): Promise<GenlFamily> {
    const known = this.families.get(name);
    if (known) return known;
    const [msg] = this.genl().query(genlGetFamily(name));
    if (!msg) throw new NetlinkError(`genl ctrl get name ${name}`, constants.errno.ENOENT);
    const family = decodeGenlFamily(msg.payload);
    this.families.set(name, family);
    return family;
  }

  /** `wg show DEV`: keys, port, fwmark and peers (with their handshakes and byte counts). */
  async wgGetDevice(device: string | number): Promise<WgDevice> {
    const family = await this.genlFamily(WG_GENL_NAME);
    const op = `wg show ${typeof device === 'number' ? `#${device}` : device}`;
    const msgs = this.genl().dump({ op, type: family.id, body: (w) => encodeWgGetDevice(w, device) });
    return decodeWgDevice(msgs.map((m) => m.payload));
  }

  /** `wg set DEV …`, split into as many messages as it needs; throws the first error. */
  async wgSetDevice(config: WgDeviceConfig): Promise<void> {
    const results = await this.apply(req.wgSetDevice(config));
    const err = results.find((r) => r !== undefined);
    if (err) throw err;
  }

  // XFRM policies (IPsec)

  /** `ip xfrm policy show`: every policy of the main database, of one family or both. */
  async xfrmPolicyList(family?: 4 | 6): Promise<XfrmPolicy[]> {
    const op = 'ip xfrm policy show';
    const msgs = this.xfrm(op).dump({ op, type: XFRM_MSG_GETPOLICY, body: () => undefined });
    return msgs.map((m) => decodeXfrmPolicy(m.payload)).filter((p): p is XfrmPolicy => p !== undefined && (family === undefined || p.src.family === family));
  }

  /** `ip xfrm policy update …`: creates the policy, or replaces the one with its selector, direction and mark. */
  async xfrmPolicyUpdate(p: XfrmPolicy): Promise<void> {
    const r = req.xfrmPolicyUpdate(p);
    await this.xfrm(r.op).do(r);
  }

  /** `ip xfrm policy delete …` by selector, direction and mark; NetlinkError ENOENT when there is none. */
  async xfrmPolicyDel(p: XfrmPolicySelector): Promise<void> {
    const r = req.xfrmPolicyDel(p);
    await this.xfrm(r.op).do(r);
  }

  /** `ip monitor` in this handle's namespace. */
  monitor(topics: readonly MonitorTopic[], opts: Pick<MonitorOptions, 'deletionsOnly'> = {}): Observable<NetlinkEvent> {
    return netlinkMonitor(topics, { ...opts, ...(this.netns ? { netns: this.netns } : {}) });
  }

  // Links

  async linkList(): Promise<Link[]> {
    return this.sock.dump({ op: 'ip link show', type: RTM_GETLINK, body: (w) => writeIfinfomsg(w) }).map((m) => decodeLink(m.payload));
  }

  /** `ip link show NAME`; undefined when there is no such device. */
  async linkByName(name: string): Promise<Link | undefined> {
    checkLinkName(name);
    return this.getLink(`ip link show ${name}`, 0, name);
  }

  async linkByIndex(index: number): Promise<Link | undefined> {
    return this.getLink(`ip link show #${index}`, index);
  }

  /** `ip link add …`; returns the new link as the kernel reports it. */
  async linkAdd(spec: LinkSpec): Promise<Link> {
    await this.sock.do(req.linkAdd(spec));
    const link = await this.linkByName(spec.name);
    if (!link) throw new NetlinkError(`ip link show ${spec.name}`, constants.errno.ENODEV);
    return link;
  }

  linkDel(index: number): Promise<void> {
    return this.sock.do(req.linkDel(index));
  }

  linkSet(index: number, change: LinkChange): Promise<void> {
    return this.sock.do(req.linkSet(index, change));
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

  linkSetHardwareAddr(index: number, mac: NonNullable<LinkChange['mac']>): Promise<void> {
    return this.linkSet(index, { mac });
  }

  /**
   * `ethtool -K NAME tx on|off` in this handle's namespace: every tx-checksum-* feature through the ethtool
   * generic netlink family (FEATURES_SET), then read back; on kernels without it (before 5.7) through the
   * SIOCETHTOOL ioctl. Throws when the device is not as asked afterwards, naming the features that stayed.
   */
  async linkSetTxChecksum(name: string, on: boolean): Promise<void> {
    checkLinkName(name);
    const what = `ethtool -K ${name} tx ${on ? 'on' : 'off'}`;
    let before: EthtoolFeatures;
    try {
      before = await this.ethtoolFeatures(name);
    } catch (err) {
      if (!lacksEthtoolFeaturesNetlink(err)) throw err;
      if (ioctlSetTxChecksum(this.netns, name, on) !== on) throw new Error(`${what}: TX checksum offload stayed ${on ? 'off' : 'on'} (SIOCETHTOOL)`);
      return;
    }
    const results = await this.apply([ethtoolFeaturesSet(name, txChecksumWanted(before, on))]);
    if (results[0]) throw results[0];
    const problem = txChecksumProblem(await this.ethtoolFeatures(name), on);
    if (problem) throw new Error(`${what}: ${problem}`);
  }

  /** `ethtool -k NAME` (ETHTOOL_MSG_FEATURES_GET): every feature the kernel knows, as the device has it. */
  async ethtoolFeatures(name: string): Promise<EthtoolFeatures> {
    const family = await this.genlFamily(ETHTOOL_GENL_NAME);
    const request = ethtoolFeaturesGet(name);
    const [msg] = this.genl().query(resolveGenlRequest(request, family));
    if (!msg) throw new NetlinkError(request.op, constants.errno.ENODATA, 'no FEATURES_GET_REPLY');
    return decodeEthtoolFeatures(msg.payload);
  }

  /** `ip link set DEV master BR`; 0 for `nomaster`. */
  linkSetMaster(index: number, masterIndex: number): Promise<void> {
    return this.linkSet(index, { masterIndex });
  }

  // Addresses

  async addrList(family?: 4 | 6, linkIndex?: number): Promise<Addr[]> {
    const af = family === 4 ? AF_INET : family === 6 ? AF_INET6 : AF_UNSPEC;
    const msgs = this.sock.dump({ op: 'ip addr show', type: RTM_GETADDR, body: (w) => encodeAddrDump(w, af, linkIndex ?? 0) });
    return msgs.map((m) => decodeAddr(m.payload)).filter((a): a is Addr => a !== undefined && (linkIndex === undefined || a.linkIndex === linkIndex));
  }

  addrAdd(a: Addr): Promise<void> {
    return this.sock.do(req.addrAdd(a));
  }

  addrReplace(a: Addr): Promise<void> {
    return this.sock.do(req.addrReplace(a));
  }

  addrDel(a: Addr): Promise<void> {
    return this.sock.do(req.addrDel(a));
  }

  // Routes

  /** `ip route show [table T] [dev D] [proto P] [exact DST]` for one family. Table defaults to main. */
  async routeList(family: 4 | 6, filter: RouteFilter = {}): Promise<Route[]> {
    const msgs = this.sock.dump({ op: 'ip route show', type: RTM_GETROUTE, body: (w) => encodeRouteDump(w, family, filter) });
    return msgs.map((m) => decodeRoute(m.payload)).filter((r): r is Route => r !== undefined && routeMatches(r, filter));
  }

  routeAdd(r: Route): Promise<void> {
    return this.sock.do(req.routeAdd(r));
  }

  routeReplace(r: Route): Promise<void> {
    return this.sock.do(req.routeReplace(r));
  }

  routeDel(r: Route): Promise<void> {
    return this.sock.do(req.routeDel(r));
  }

  /** `ip route get DST`: the route the kernel would use, with its device and source address. */
  async routeGet(dst: IP): Promise<Route> {
    const [msg] = this.sock.query({ op: `ip route get ${dst}`, type: RTM_GETROUTE, flags: 0, body: (w) => encodeRouteGet(w, dst) });
    const route = msg && decodeRoute(msg.payload);
    if (!route) throw new NetlinkError(`ip route get ${dst}`, constants.errno.ENETUNREACH);
    return route;
  }

  // Nexthop objects

  /** `ip nexthop show`; fails (EINVAL/EOPNOTSUPP) on kernels without nexthop objects. */
  async nexthopList(): Promise<Nexthop[]> {
    const msgs = this.sock.dump({ op: 'ip nexthop show', type: RTM_GETNEXTHOP, body: (w) => encodeNexthopDump(w) });
    return msgs.map((m) => decodeNexthop(m.payload)).filter((n): n is Nexthop => n !== undefined);
  }

  nexthopReplace(nh: Nexthop): Promise<void> {
    return this.sock.do(req.nexthopReplace(nh));
  }

  nexthopDel(id: number): Promise<void> {
    return this.sock.do(req.nexthopDel({ id }));
  }

  // Neighbours and the bridge FDB

  async neighList(linkIndex: number, family: 4 | 6 = 4): Promise<Neigh[]> {
    const af = family === 4 ? AF_INET : AF_INET6;
    const msgs = this.sock.dump({ op: 'ip neigh show', type: RTM_GETNEIGH, body: (w) => encodeNeighDump(w, af, linkIndex) });
    return msgs.map((m) => decodeNeigh(m.payload)).filter((n): n is Neigh => n !== undefined && n.linkIndex === linkIndex);
  }

  neighSet(n: Neigh): Promise<void> {
    return this.sock.do(req.neighSet(n));
  }

  neighAdd(n: Neigh): Promise<void> {
    return this.sock.do(req.neighAdd(n));
  }

  neighDel(n: Neigh): Promise<void> {
    return this.sock.do(req.neighDel(n));
  }

  async fdbList(linkIndex: number): Promise<FdbEntry[]> {
    const msgs = this.sock.dump({ op: 'bridge fdb show', type: RTM_GETNEIGH, body: (w) => encodeNeighDump(w, AF_BRIDGE, linkIndex) });
    return msgs.map((m) => decodeFdb(m.payload)).filter((f): f is FdbEntry => f !== undefined && f.linkIndex === linkIndex);
  }

  fdbAppend(f: FdbEntry): Promise<void> {
    return this.sock.do(req.fdbAppend(f));
  }

  fdbReplace(f: FdbEntry): Promise<void> {
    return this.sock.do(req.fdbReplace(f));
  }

  fdbDel(f: FdbEntry): Promise<void> {
    return this.sock.do(req.fdbDel(f));
  }

  private async getLink(op: string, index: number, name?: string): Promise<Link | undefined> {
    try {
      const [msg] = this.sock.query({
        op,
        type: RTM_GETLINK,
        flags: 0,
        body: (w) => (writeIfinfomsg(w, index), name !== undefined && w.str(IFLA_IFNAME, name)),
      });
      return msg ? decodeLink(msg.payload) : undefined;
    } catch (err) {
      if (err instanceof NetlinkError && err.code === 'ENODEV') return undefined;
      throw err;
    }
  }
}

/** Which of the handle's sockets a request goes to. */
function channelOf(r: NetlinkRequest): 'route' | 'genl' | 'xfrm' {
  if (r.genlFamily !== undefined) return 'genl';
  return r.protocol === NETLINK_XFRM ? 'xfrm' : 'route';
}

/**
 * The kernel has no FEATURES_GET/SET: no ethtool family (before 5.6, or CONFIG_ETHTOOL_NETLINK off), or a
 * family without the features commands (5.6), which generic netlink refuses with EOPNOTSUPP.
 */
export function lacksEthtoolFeaturesNetlink(err: unknown): boolean {
  return err instanceof NetlinkError && (err.code === 'ENOENT' || err.code === 'EOPNOTSUPP');
}
