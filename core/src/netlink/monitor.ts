import { constants } from 'node:os';
import { Socket } from 'node:net';
import { Observable } from 'rxjs';
import { decodeAddr, type Addr } from './addr.js';
import { NetlinkError } from './errors.js';
import { decodeLink, type Link } from './link.js';
import { decodeFdb, decodeNeigh, type FdbEntry, type Neigh } from './neigh.js';
import {
  AF_BRIDGE,
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
} from './nl/constants.js';
import { decodeRoute, type Route } from './route.js';
import { c, SO_RCVBUFFORCE, SOL_SOCKET } from './socket/libc.js';
import { forEachMessage, openRouteSocket, setInt } from './socket/netlink-socket.js';

export type MonitorTopic = 'link' | 'addr' | 'route' | 'neigh';

export type NetlinkEvent =
  | { topic: 'link'; action: 'new' | 'del'; link: Link }
  | { topic: 'addr'; action: 'new' | 'del'; addr: Addr }
  | { topic: 'route'; action: 'new' | 'del'; route: Route }
  | { topic: 'neigh'; action: 'new' | 'del'; neigh?: Neigh | undefined; fdb?: FdbEntry | undefined };

const GROUPS: Record<MonitorTopic, number[]> = {
  link: [RTNLGRP_LINK],
  addr: [RTNLGRP_IPV4_IFADDR, RTNLGRP_IPV6_IFADDR],
  route: [RTNLGRP_IPV4_ROUTE, RTNLGRP_IPV6_ROUTE],
  neigh: [RTNLGRP_NEIGH],
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

const NEW_TYPES: Record<MonitorTopic, number[]> = { link: [RTM_NEWLINK], addr: [RTM_NEWADDR], route: [RTM_NEWROUTE], neigh: [RTM_NEWNEIGH] };

export function netlinkMonitor(topics: readonly MonitorTopic[], opts: MonitorOptions = {}): Observable<NetlinkEvent> {
  const skip = new Set((opts.deletionsOnly ?? []).flatMap((t) => NEW_TYPES[t]));
  return new Observable<NetlinkEvent>((subscriber) => {
    const socket = openMonitorSocket(topics, opts.netns);
    socket.on('data', (dgram: Buffer) => {
      for (const event of decodeEvents(dgram, skip)) subscriber.next(event);
    });
    socket.on('error', (err: NodeJS.ErrnoException) => {
      subscriber.error(
        err.code === 'ENOBUFS' ? new NetlinkError('netlink monitor (notifications were lost; re-list and resubscribe)', constants.errno.ENOBUFS) : err,
      );
    });
    socket.on('close', () => subscriber.complete());
    return () => socket.destroy();
  });
}

const MONITOR_RCVBUF = 64 << 20;

function openMonitorSocket(topics: readonly MonitorTopic[], netns?: string): Socket {
  let mask = 0;
  for (const t of topics) for (const g of GROUPS[t]) mask |= 1 << (g - 1);
  const fd = openRouteSocket(netns, mask, true);
  // Our own batches of thousands of routes come back as as many notifications (~1 KiB each in the
  // queue); a deep queue keeps a burst from overflowing into ENOBUFS and a needless full resync.
  try {
    setInt(fd, SOL_SOCKET, SO_RCVBUFFORCE, MONITOR_RCVBUF, 'SO_RCVBUFFORCE');
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

function decodeEvents(buf: Buffer, skip: Set<number>): NetlinkEvent[] {
  const out: NetlinkEvent[] = [];
  forEachMessage(buf, 0, buf.length, (msg) => {
    if (skip.has(msg.type)) return;
    const event = decodeEvent(msg.type, msg.payload);
    if (event) out.push(event);
  });
  return out;
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
