import { constants } from 'node:os';
import { Socket } from 'node:net';
import { Observable } from 'rxjs';
import { decodeAddr, type Addr } from './addr.js';
import { NetlinkError } from './errors.js';
import { decodeLink, type Link } from './link.js';
import { decodeFdb, decodeNeigh, type FdbEntry, type Neigh } from './neigh.js';
import {
  AF_BRIDGE,
  NETLINK_NETFILTER,
  NETLINK_ROUTE,
  NETLINK_XFRM,
  NFNLGRP_NFTABLES,
  RTM_DELADDR,
  RTM_DELLINK,
  RTM_DELNEIGH,
  RTM_DELROUTE,
  RTM_NEWADDR,
  RTM_NEWLINK,
  RTM_NEWNEIGH,
  RTM_NEWROUTE,
  RTNLGRP_IPV4_IFADDR,
  RTNLGRP_IPV4_ROUTE,
  RTNLGRP_IPV6_IFADDR,
  RTNLGRP_IPV6_ROUTE,
  RTNLGRP_LINK,
  RTNLGRP_NEIGH,
  XFRM_MSG_NEWPOLICY,
  XFRM_MSG_UPDPOLICY,
  XFRMNLGRP_EXPIRE,
  XFRMNLGRP_POLICY,
} from './nl/constants.js';
import { decodeRoute, type Route } from './route.js';
import { c, SO_RCVBUFFORCE, SOL_SOCKET } from './socket/libc.js';
import { forEachMessage, openRouteSocket, setInt } from './socket/netlink-socket.js';
import { dropMessageTypes } from './socket/socket-filter.js';
import { decodeXfrmPolicyEvent, type XfrmPolicyEvent } from './xfrm.js';

/**
 * `xfrm-policy` is `ip xfrm monitor policy`: IPsec policies added, replaced, deleted, expired or flushed.
 * `nftables` is `nft monitor`, undecoded: one 'change' event per message of a committed nf_tables
 * transaction (iptables-nft's included), for whoever only needs to know that the rule set changed.
 */
export type MonitorTopic = 'link' | 'addr' | 'route' | 'neigh' | 'xfrm-policy' | 'nftables';

export type NetlinkEvent =
  | { topic: 'link'; action: 'new' | 'del'; link: Link }
  | { topic: 'addr'; action: 'new' | 'del'; addr: Addr }
  | { topic: 'route'; action: 'new' | 'del'; route: Route }
  | { topic: 'neigh'; action: 'new' | 'del'; neigh?: Neigh | undefined; fdb?: FdbEntry | undefined }
  | XfrmPolicyEvent
  | { topic: 'nftables'; action: 'change' };

const GROUPS: Record<MonitorTopic, number[]> = {
  link: [RTNLGRP_LINK],
  addr: [RTNLGRP_IPV4_IFADDR, RTNLGRP_IPV6_IFADDR],
  route: [RTNLGRP_IPV4_ROUTE, RTNLGRP_IPV6_ROUTE],
  neigh: [RTNLGRP_NEIGH],
  // A policy whose hard lifetime ran out is announced on the expire group, not the policy group.
  'xfrm-policy': [XFRMNLGRP_POLICY, XFRMNLGRP_EXPIRE],
  nftables: [NFNLGRP_NFTABLES],
};

/** The netlink protocol (hence the socket) each topic is heard on; message types overlap between them. */
const PROTOCOL: Record<MonitorTopic, number> = {
  link: NETLINK_ROUTE,
  addr: NETLINK_ROUTE,
  route: NETLINK_ROUTE,
  neigh: NETLINK_ROUTE,
  'xfrm-policy': NETLINK_XFRM,
  nftables: NETLINK_NETFILTER,
};

interface PipeHandle {
  open(fd: number): number;
}
type PipeCtor = new (type: number) => PipeHandle;

/**
 * Kernel change notifications (`ip monitor link address route`) as an Observable. The socket is
 * non-blocking and read by libuv's event loop: one 'data' event per datagram, no polling, no sleeping
 * and no threadpool thread. Unsubscribing closes the socket, after which the process can exit.
 *
 * Topics of different protocols (rtnetlink's, 'xfrm-policy', 'nftables') are read from a socket each: notifications
 * keep their order within each, not across them.
 *
 * If the kernel drops notifications because we fell behind (ENOBUFS), the Observable errors: the
 * subscriber has missed changes and must re-list what it cares about, then subscribe again.
 */
export interface MonitorOptions {
  netns?: string;
  /**
   * Topics whose 'new' notifications are dropped unread. A daemon that adds thousands of routes hears of
   * each one; when it only cares that something was deleted, skipping the decode keeps the burst cheap.
   */
  deletionsOnly?: MonitorTopic[];
}

const NEW_TYPES: Record<MonitorTopic, number[]> = {
  link: [RTM_NEWLINK],
  addr: [RTM_NEWADDR],
  route: [RTM_NEWROUTE],
  neigh: [RTM_NEWNEIGH],
  'xfrm-policy': [XFRM_MSG_NEWPOLICY, XFRM_MSG_UPDPOLICY],
  nftables: [],
};

export function netlinkMonitor(topics: readonly MonitorTopic[], opts: MonitorOptions = {}): Observable<NetlinkEvent> {
  // One socket per protocol (rtnetlink, XFRM), each with its own set of message types to skip undecoded.
  const byProtocol = new Map<number, MonitorTopic[]>();
  for (const t of new Set(topics)) byProtocol.set(PROTOCOL[t], [...(byProtocol.get(PROTOCOL[t]) ?? []), t]);
  return new Observable<NetlinkEvent>((subscriber) => {
    const sockets: Socket[] = [];
    const closeAll = () => sockets.forEach((s) => s.destroy());
    try {
      for (const [protocol, ts] of byProtocol) {
        const skip = new Set(ts.filter((t) => opts.deletionsOnly?.includes(t)).flatMap((t) => NEW_TYPES[t]));
        const socket = openMonitorSocket(protocol, ts, [...skip], opts.netns);
        sockets.push(socket);
        socket.on('data', (dgram: Buffer) => {
          for (const event of decodeEvents(protocol, dgram, skip)) subscriber.next(event);
        });
        socket.on('error', (err: NodeJS.ErrnoException) => {
          subscriber.error(
            err.code === 'ENOBUFS' ? new NetlinkError('netlink monitor (notifications were lost; re-list and resubscribe)', constants.errno.ENOBUFS) : err,
          );
        });
        socket.on('close', () => subscriber.complete());
      }
    } catch (err) {
      closeAll();
      throw err;
    }
    return closeAll;
  });
}

const MONITOR_RCVBUF = 64 << 20;

/** A monitor socket for `topics`; the kernel drops messages of the `skip` types itself where it can. */
function openMonitorSocket(protocol: number, topics: readonly MonitorTopic[], skip: readonly number[], netns?: string): Socket {
  let mask = 0;
  for (const t of topics) for (const g of GROUPS[t]) mask |= 1 << (g - 1);
  const fd = openRouteSocket(netns, mask, true, protocol);
  // Our own batches of thousands of routes come back as as many notifications (~1 KiB each in the
  // queue); a deep queue keeps a burst from overflowing into ENOBUFS and a needless full resync.
  try {
    setInt(fd, SOL_SOCKET, SO_RCVBUFFORCE, MONITOR_RCVBUF, 'SO_RCVBUFFORCE');
    // Those notifications never reach us then; where the filter is refused, decodeEvents skips them.
    dropMessageTypes(fd, skip);
  } catch (err) {
    c().close([fd]);
    throw err;
  }
  // net.Socket refuses a netlink fd, but a libuv pipe handle reads any fd through epoll. The binding is
  // internal; it has been stable for years and is the one event-driven path Node offers for such fds.
  const { Pipe, constants } = (process as unknown as { binding(name: string): { Pipe: PipeCtor; constants: { SOCKET: number } } }).binding('pipe_wrap');
  const handle = new Pipe(constants.SOCKET);
  const err = handle.open(fd);
  if (err < 0) {
    c().close([fd]);
    throw new NetlinkError('uv_pipe_open(netlink monitor)', -err);
  }
  return new Socket({ handle, readable: true, writable: false } as unknown as ConstructorParameters<typeof Socket>[0]);
}

function decodeEvents(protocol: number, buf: Buffer, skip: Set<number>): NetlinkEvent[] {
  const out: NetlinkEvent[] = [];
  const decode = protocol === NETLINK_XFRM ? decodeXfrmPolicyEvent : protocol === NETLINK_NETFILTER ? nftablesChange : decodeEvent;
  forEachMessage(buf, 0, buf.length, (msg) => {
    if (skip.has(msg.type)) return;
    const event = decode(msg.type, msg.payload);
    if (event) out.push(event);
  });
  return out;
}

function nftablesChange(): NetlinkEvent {
  return { topic: 'nftables', action: 'change' };
}

function decodeEvent(type: number, payload: Buffer): NetlinkEvent | undefined {
  switch (type) {
    case RTM_NEWLINK:
    case RTM_DELLINK:
      return { topic: 'link', action: type === RTM_NEWLINK ? 'new' : 'del', link: decodeLink(payload) };
    case RTM_NEWADDR:
    case RTM_DELADDR: {
      const addr = decodeAddr(payload);
      return addr && { topic: 'addr', action: type === RTM_NEWADDR ? 'new' : 'del', addr };
    }
    case RTM_NEWROUTE:
    case RTM_DELROUTE: {
      const route = decodeRoute(payload);
      return route && { topic: 'route', action: type === RTM_NEWROUTE ? 'new' : 'del', route };
    }
    case RTM_NEWNEIGH:
    case RTM_DELNEIGH: {
      const action = type === RTM_NEWNEIGH ? 'new' : 'del';
      return payload.readUInt8(0) === AF_BRIDGE ? { topic: 'neigh', action, fdb: decodeFdb(payload) } : { topic: 'neigh', action, neigh: decodeNeigh(payload) };
    }
    default:
      return undefined;
  }
}
