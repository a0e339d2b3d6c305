import type { Observable } from 'rxjs';
import type { IP } from '../ip/ip.js';
import type { Addr } from '../netlink/addr.js';
import type { Link, LinkChange, LinkSpec } from '../netlink/link.js';
import type { MonitorOptions, MonitorTopic, NetlinkEvent } from '../netlink/monitor.js';
import type { FdbEntry, Neigh } from '../netlink/neigh.js';
import type { Nexthop } from '../netlink/nexthop.js';
import type { Route, RouteFilter } from '../netlink/route.js';
import type { NetlinkError } from '../netlink/errors.js';
import type { NetlinkRequest } from '../netlink/socket/netlink-socket.js';
import type { GenlFamily } from '../netlink/genl.js';
import type { WgDevice, WgDeviceConfig } from '../netlink/wireguard.js';
import type { XfrmPolicy, XfrmPolicySelector } from '../netlink/xfrm.js';

/** One result per request of a batch: undefined for success, else the kernel's error. */
export type OpResult = NetlinkError | undefined;

/**
 * rtnetlink in flanneld's network namespace, as backends and the reconciliation engine see it. Method
 * names mirror iproute2 (`routeReplace` is `ip route replace`). Single operations throw NetlinkError;
 * `apply` sends a batch and returns one result per request. `@flannel-ts/core/testing` has an in-memory
 * fake of it; the daemon hands backends the real socket.
 */
export interface Netlink {
  /**
   * Rtnetlink requests, generic netlink ones (`requests.wgSetDevice`, `requests.wgPeerSet`) and XFRM ones
   * (`requests.xfrmPolicyUpdate`, `requests.xfrmPolicyDel`) alike.
   */
  apply(requests: readonly NetlinkRequest[]): Promise<OpResult[]>;
  /** Kernel change notifications (`ip monitor`); errors when the kernel dropped some (re-list, then resubscribe). */
  monitor(topics: readonly MonitorTopic[], opts?: Pick<MonitorOptions, 'deletionsOnly'>): Observable<NetlinkEvent>;

  linkList(): Promise<Link[]>;
  linkByName(name: string): Promise<Link | undefined>;
  linkByIndex(index: number): Promise<Link | undefined>;
  linkAdd(spec: LinkSpec): Promise<Link>;
  linkDel(index: number): Promise<void>;
  linkSet(index: number, change: LinkChange): Promise<void>;
  linkSetUp(index: number): Promise<void>;
  linkSetDown(index: number): Promise<void>;
  linkSetMtu(index: number, mtu: number): Promise<void>;
  /**
   * Turns a device's TX checksum offload on or off, as `ethtool -K NAME tx on|off` does (every
   * tx-checksum-* feature: tx-checksum-ip-generic on a vxlan device), and checks that it took. The real
   * handle uses the ethtool generic netlink family, or the SIOCETHTOOL ioctl on kernels before 5.7; no
   * program. Optional: a Netlink without it cannot change offloads.
   */
  linkSetTxChecksum?(name: string, on: boolean): Promise<void>;
  linkSetHardwareAddr(index: number, mac: NonNullable<LinkChange['mac']>): Promise<void>;
  linkSetMaster(index: number, masterIndex: number): Promise<void>;

  addrList(family?: 4 | 6, linkIndex?: number): Promise<Addr[]>;
  addrAdd(a: Addr): Promise<void>;
  addrReplace(a: Addr): Promise<void>;
  addrDel(a: Addr): Promise<void>;

  routeList(family: 4 | 6, filter?: RouteFilter): Promise<Route[]>;
  routeAdd(r: Route): Promise<void>;
  routeReplace(r: Route): Promise<void>;
  routeDel(r: Route): Promise<void>;
  routeGet(dst: IP): Promise<Route>;

  nexthopList(): Promise<Nexthop[]>;
  nexthopReplace(nh: Nexthop): Promise<void>;
  nexthopDel(id: number): Promise<void>;

  neighList(linkIndex: number, family?: 4 | 6): Promise<Neigh[]>;
  neighSet(n: Neigh): Promise<void>;
  neighAdd(n: Neigh): Promise<void>;
  neighDel(n: Neigh): Promise<void>;
  fdbList(linkIndex: number): Promise<FdbEntry[]>;
  fdbAppend(f: FdbEntry): Promise<void>;
  fdbReplace(f: FdbEntry): Promise<void>;
  fdbDel(f: FdbEntry): Promise<void>;

  // Generic netlink (contract 1.3; optional, so that other implementations of this interface stay valid)

  /** `genl ctrl get name NAME`; NetlinkError ENOENT when the kernel has no such family. */
  genlFamily?(name: string): Promise<GenlFamily>;
  /** `wg show DEV` (WG_CMD_GET_DEVICE): keys, listen port, fwmark, peers with handshakes and byte counts. */
  wgGetDevice?(device: string | number): Promise<WgDevice>;
  /** `wg set DEV …` (WG_CMD_SET_DEVICE), split into several messages when it must be. */
  wgSetDevice?(config: WgDeviceConfig): Promise<void>;

  // XFRM (IPsec) policies over NETLINK_XFRM (contract 1.4; optional, as the generic netlink methods are)

  /** `ip xfrm policy show` (XFRM_MSG_GETPOLICY dump): every policy, or those of one family. */
  xfrmPolicyList?(family?: 4 | 6): Promise<XfrmPolicy[]>;
  /** `ip xfrm policy update …` (XFRM_MSG_UPDPOLICY): creates the policy or replaces the one with its selector, dir and mark. */
  xfrmPolicyUpdate?(p: XfrmPolicy): Promise<void>;
  /** `ip xfrm policy delete …` (XFRM_MSG_DELPOLICY) by selector, dir and mark; NetlinkError ENOENT when there is none. */
  xfrmPolicyDel?(p: XfrmPolicySelector): Promise<void>;
}
export const Netlink = Symbol.for('flannel-ts.Netlink');
