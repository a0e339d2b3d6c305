import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { MessageWriter, parseAttrs, attrStr, align4 } from '../nl/attrs.js';
import {
  AF_NETLINK,
  NETLINK_CAP_ACK,
  NETLINK_EXT_ACK,
  NETLINK_GET_STRICT_CHK,
  NETLINK_ROUTE,
  NLM_F_ACK,
  NLM_F_ACK_TLVS,
  NLM_F_DUMP,
  NLM_F_REQUEST,
  NLMSG_DONE,
  NLMSG_ERROR,
  NLMSG_HDRLEN,
  NLMSG_NOOP,
  NLMSGERR_ATTR_MSG,
  SOL_NETLINK,
} from '../nl/constants.js';
import { checkCall as check, NetlinkError } from '../errors.js';
import {
  c,
  CLONE_NEWNET,
  MSG_TRUNC,
  MSG_WAITFORONE,
  NativeArena,
  O_CLOEXEC,
  O_RDONLY,
  SO_RCVBUFFORCE,
  SO_RCVTIMEO,
  SO_SNDBUFFORCE,
  SOCK_CLOEXEC,
  SOCK_NONBLOCK,
  SOCK_RAW,
  SOL_SOCKET,
} from './libc.js';

/** One netlink request: the message type and flags, and a writer for its body (fixed header + attributes). */
export interface NetlinkRequest {
  /** What it does, in iproute2 words, for error messages: "ip route add 10.1.0.0/24 dev eth0". */
  op: string;
  type: number;
  flags: number;
  body(w: MessageWriter): void;
  /** The same request as data (object, verb, value), for a fake kernel that does not decode bytes. */
  what?: RequestWhat;
  /**
   * A generic netlink request (NETLINK_GENERIC) of this family ("wireguard"): `type` is then unused, the
   * handle sends it with the family's id, resolved by name, and `body` starts with the genl header.
   */
  genlFamily?: string;
  /** The netlink protocol it belongs to when not rtnetlink: NETLINK_XFRM requests go to an XFRM socket. */
  protocol?: number;
}

export interface RequestWhat {
  object: 'link' | 'addr' | 'route' | 'neigh' | 'fdb' | 'nexthop' | 'wireguard' | 'xfrm-policy';
  verb: 'add' | 'replace' | 'append' | 'del' | 'set';
  value: unknown;
}

/** A message from the kernel: its type and payload (after the 16-byte header). */
export interface NetlinkMessage {
  type: number;
  flags: number;
  payload: Buffer;
}

export interface NetlinkSocketOptions {
  /** A named network namespace (/var/run/netns/NAME) or a path to a namespace file. */
  netns?: string;
  /** NETLINK_ROUTE (the default), NETLINK_GENERIC or NETLINK_XFRM. */
  protocol?: number;
  /** Replies must arrive within this time; nothing may hang forever. Default 5 s. */
  timeoutMs?: number;
}

/**
 * Messages per sendto. 128 failures fit the receive buffer many times over (ENOBUFS was seen at 1,000
 * acks with the default buffer), and one batch takes a few milliseconds of event-loop time at most.
 */
export const BATCH_SIZE = 128;
/** The last message of a batch of writes: the kernel only acks it (see executeBatch). */
const NOOP: NetlinkRequest = { op: 'netlink no-op', type: NLMSG_NOOP, flags: 0, body: () => {} };
const SLOT = 2048;
const DUMP_BUF = 65536;
const MMSGHDR = 64;
const IOVEC = 16;

/**
 * A netlink socket (rtnetlink, or generic netlink with `protocol`). Requests go out in batches, one sendto
 * per batch, ending with an acked no-op; failures and that ack come back many per ffi call through
 * recvmmsg into native memory. The calls are synchronous: the kernel has queued every reply by the time
 * sendto returns, so nothing blocks for long, and batches are separated by a yield to the event loop.
 */
export class NetlinkSocket {
  private seq = Math.floor(Math.random() * 0x7fffffff);
  private readonly arena: NativeArena;
  private readonly dumpBuf = Buffer.alloc(DUMP_BUF);
  private readonly kernelAddr = sockaddrNl(0);
  private closed = false;

  private constructor(readonly fd: number) {
    this.arena = new NativeArena(BATCH_SIZE * (MMSGHDR + IOVEC + SLOT));
    const iovs = BATCH_SIZE * MMSGHDR;
    const slots = iovs + BATCH_SIZE * IOVEC;
    for (let i = 0; i < BATCH_SIZE; i++) {
      const iov = iovs + i * IOVEC;
      this.arena.buf.writeBigUInt64LE(this.arena.address + BigInt(slots + i * SLOT), iov);
      this.arena.buf.writeBigUInt64LE(BigInt(SLOT), iov + 8);
      this.arena.buf.writeBigUInt64LE(this.arena.address + BigInt(iov), i * MMSGHDR + 16);
      this.arena.buf.writeBigUInt64LE(1n, i * MMSGHDR + 24);
    }
  }

  static open(opts: NetlinkSocketOptions = {}): NetlinkSocket {
    const fd = openRouteSocket(opts.netns, 0, false, opts.protocol ?? NETLINK_ROUTE);
    try {
      setInt(fd, SOL_NETLINK, NETLINK_CAP_ACK, 1, 'NETLINK_CAP_ACK');
      setInt(fd, SOL_NETLINK, NETLINK_EXT_ACK, 1, 'NETLINK_EXT_ACK');
      trySetInt(fd, SOL_NETLINK, NETLINK_GET_STRICT_CHK, 1); // lets the kernel filter dumps (route table, neigh dev)
      setInt(fd, SOL_SOCKET, SO_RCVBUFFORCE, 4 << 20, 'SO_RCVBUFFORCE');
      setInt(fd, SOL_SOCKET, SO_SNDBUFFORCE, 4 << 20, 'SO_SNDBUFFORCE');
      const ms = opts.timeoutMs ?? 5000;
      const tv = Buffer.alloc(16);
      tv.writeBigInt64LE(BigInt(Math.floor(ms / 1000)), 0);
      tv.writeBigInt64LE(BigInt((ms % 1000) * 1000), 8);
      check('setsockopt(SO_RCVTIMEO)', c().setsockopt([fd, SOL_SOCKET, SO_RCVTIMEO, tv, 16]));
      return new NetlinkSocket(fd);
    } catch (err) {
      c().close([fd]);
      throw err;
    }
  }

  /**
   * Runs the requests in order and returns one result per request: undefined for success, or the
   * kernel's error. A failed request does not stop the ones after it.
   */
  async execute(requests: readonly NetlinkRequest[]): Promise<(NetlinkError | undefined)[]> {
    const results: (NetlinkError | undefined)[] = [];
    for (let i = 0; i < requests.length; i += BATCH_SIZE) {
      if (i > 0) await yieldToLoop();
      results.push(...this.executeBatch(requests.slice(i, i + BATCH_SIZE)));
    }
    return results;
  }

  /** One request; throws its error. */
  async do(request: NetlinkRequest): Promise<void> {
    const [err] = this.executeBatch([request]);
    if (err) throw err;
  }

  /** A dump request (NLM_F_DUMP): every reply message until NLMSG_DONE. */
  dump(request: Omit<NetlinkRequest, 'flags'>): NetlinkMessage[] {
    return this.transact({ ...request, flags: NLM_F_DUMP }, true);
  }

  /** A request answered by messages and then an ack (e.g. RTM_GETROUTE for `ip route get`). */
  query(request: NetlinkRequest): NetlinkMessage[] {
    return this.transact(request, false);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    c().close([this.fd]);
    this.arena.free();
  }

  /**
   * No request asks for an ack: the kernel answers a failure whether asked or not, and runs the messages of
   * one datagram in order, so the acked no-op at the end says that every request before it has run. A start
   * with 20,000 requests read 20,000 acks before (the kernel built and queued each), and reads 157 now.
   */
  private executeBatch(requests: readonly NetlinkRequest[]): (NetlinkError | undefined)[] {
    this.assertOpen();
    const w = new MessageWriter(requests.length * 64 + NLMSG_HDRLEN);
    const firstSeq = this.seq + 1;
    for (let i = 0; i < requests.length; i++) this.encode(w, requests[i]!, 0);
    const lastSeq = this.encode(w, NOOP, NLM_F_ACK);
    this.send(w);
    const results = new Array<NetlinkError | undefined>(requests.length).fill(undefined);
    let done = false;
    while (!done) {
      this.receiveMany((buf, off, len) => {
        if (buf.readUInt16LE(off + 4) !== NLMSG_ERROR || len < NLMSG_HDRLEN + 4 + NLMSG_HDRLEN) return;
        const seq = buf.readUInt32LE(off + NLMSG_HDRLEN + 4 + 8);
        if (seq === lastSeq) {
          done = true;
          return;
        }
        const i = (seq - firstSeq) >>> 0;
        const errno = -buf.readInt32LE(off + NLMSG_HDRLEN);
        // i past the batch: a late reply to an earlier, timed-out batch, not one of ours.
        if (i < requests.length && errno !== 0) results[i] = new NetlinkError(requests[i]!.op, errno, parseError(rawMessage(buf, off, len)).extAck);
      });
    }
    return results;
  }

  private transact(request: NetlinkRequest, isDump: boolean): NetlinkMessage[] {
    this.assertOpen();
    const w = new MessageWriter(128);
    const seq = this.encode(w, request, isDump ? 0 : NLM_F_ACK);
    this.send(w);
    const out: NetlinkMessage[] = [];
    for (;;) {
      const n = check(`recv (${request.op})`, c().recv([this.fd, this.dumpBuf, DUMP_BUF, 0]));
      // Copy out: the receive buffer is reused by the next datagram of a multi-part dump.
      const dgram = Buffer.from(this.dumpBuf.subarray(0, n));
      for (const msg of splitMessages(dgram, 0, n)) {
        if (msg.seq !== seq) continue;
        if (msg.type === NLMSG_DONE) {
          // A dump that fails part-way ends with DONE carrying the error, not with an error message.
          const errno = msg.payload.length >= 4 ? -msg.payload.readInt32LE(0) : 0;
          if (errno > 0) throw new NetlinkError(request.op, errno, parseDoneExtAck(msg));
          return out;
        }
        if (msg.type === NLMSG_ERROR) {
          const e = parseError(msg);
          if (e.errno !== 0) throw new NetlinkError(request.op, e.errno, e.extAck);
          return out;
        }
        out.push({ type: msg.type, flags: msg.flags, payload: msg.payload });
      }
    }
  }

  private encode(w: MessageWriter, r: NetlinkRequest, extraFlags: number): number {
    const seq = (this.seq = (this.seq + 1) >>> 0);
    const off = w.reserve(NLMSG_HDRLEN);
    r.body(w);
    const b = w.view();
    b.writeUInt32LE(w.length - off, off);
    b.writeUInt16LE(r.type, off + 4);
    b.writeUInt16LE(r.flags | NLM_F_REQUEST | extraFlags, off + 6);
    b.writeUInt32LE(seq, off + 8);
    return seq;
  }

  private send(w: MessageWriter): void {
    const data = w.view();
    check('sendto(netlink)', c().sendto([this.fd, data, w.length, 0, this.kernelAddr, 12]));
  }

  /**
   * Waits for at least one reply, then takes every one already queued, in one call. `each` gets each
   * message's offset and length in the arena, valid only during the call (the next one reuses it).
   */
  private receiveMany(each: (buf: Buffer, off: number, len: number) => void): void {
    const got = check('recvmmsg(netlink)', c().recvmmsg([this.fd, this.arena.address, BATCH_SIZE, MSG_WAITFORONE, 0]));
    const slots = BATCH_SIZE * (MMSGHDR + IOVEC);
    const buf = this.arena.buf;
    for (let k = 0; k < got; k++) {
      if (buf.readInt32LE(k * MMSGHDR + 48) & MSG_TRUNC) throw new Error(`netlink reply larger than ${SLOT} bytes`);
      const start = slots + k * SLOT;
      forEachFrame(buf, start, start + buf.readUInt32LE(k * MMSGHDR + 56), each);
    }
  }

  private assertOpen(): void {
    if (this.closed) throw new Error('netlink socket is closed');
  }
}

interface RawMessage extends NetlinkMessage {
  seq: number;
}

function splitMessages(buf: Buffer, start: number, end: number): RawMessage[] {
  const out: RawMessage[] = [];
  forEachMessage(buf, start, end, (m) => out.push(m));
  return out;
}

export function forEachMessage(buf: Buffer, start: number, end: number, each: (msg: RawMessage) => void): void {
  forEachFrame(buf, start, end, (b, off, len) => each(rawMessage(b, off, len)));
}

/** Each whole message in `buf[start, end)`, as its offset and length; a truncated one ends the walk. */
function forEachFrame(buf: Buffer, start: number, end: number, each: (buf: Buffer, off: number, len: number) => void): void {
  for (let off = start; off + NLMSG_HDRLEN <= end;) {
    const len = buf.readUInt32LE(off);
    if (len < NLMSG_HDRLEN || off + len > end) break;
    each(buf, off, len);
    off += align4(len);
  }
}

/** The message of `len` bytes at `off`; its payload is a view into `buf`. */
function rawMessage(buf: Buffer, off: number, len: number): RawMessage {
  return {
    type: buf.readUInt16LE(off + 4),
    flags: buf.readUInt16LE(off + 6),
    seq: buf.readUInt32LE(off + 8),
    payload: buf.subarray(off + NLMSG_HDRLEN, off + len),
  };
}

/**
 * struct nlmsgerr: int error, then the request's header (only the header: NETLINK_CAP_ACK), then with
 * NLM_F_ACK_TLVS the extended-ack attributes.
 */
function parseError(msg: RawMessage): { errno: number; seq: number; extAck?: string | undefined } {
  const errno = -msg.payload.readInt32LE(0);
  const seq = msg.payload.readUInt32LE(4 + 8);
  let extAck: string | undefined;
  if (msg.flags & NLM_F_ACK_TLVS) extAck = attrStr(parseAttrs(msg.payload, 4 + NLMSG_HDRLEN).get(NLMSGERR_ATTR_MSG));
  return { errno, seq, extAck };
}

function parseDoneExtAck(msg: RawMessage): string | undefined {
  return msg.flags & NLM_F_ACK_TLVS ? attrStr(parseAttrs(msg.payload, 4).get(NLMSGERR_ATTR_MSG)) : undefined;
}

function sockaddrNl(groups: number): Buffer {
  const sa = Buffer.alloc(12);
  sa.writeUInt16LE(AF_NETLINK, 0);
  sa.writeUInt32LE(groups >>> 0, 8);
  return sa;
}

export function setInt(fd: number, level: number, opt: number, value: number, name: string): void {
  const b = Buffer.alloc(4);
  b.writeInt32LE(value);
  check(`setsockopt(${name})`, c().setsockopt([fd, level, opt, b, 4]));
}

function trySetInt(fd: number, level: number, opt: number, value: number): void {
  try {
    setInt(fd, level, opt, value, '');
  } catch {
    // an older kernel without the option: go on without it
  }
}

/**
 * A bound NETLINK_ROUTE (or `protocol`) socket made inside `netns`, subscribed to the multicast `groups` bit
 * mask (0 for a request socket). Non-blocking sockets are for event-loop readers (the monitor).
 */
export function openRouteSocket(netns: string | undefined, groups: number, nonBlocking: boolean, protocol = NETLINK_ROUTE): number {
  const type = SOCK_RAW | SOCK_CLOEXEC | (nonBlocking ? SOCK_NONBLOCK : 0);
  const fd = inNetns(netns, () => check('socket(AF_NETLINK)', c().socket([AF_NETLINK, type, protocol])));
  const bound = c().bind([fd, sockaddrNl(groups), 12]);
  if (bound.value < 0) {
    c().close([fd]);
    check('bind(AF_NETLINK)', bound);
  }
  return fd;
}

/**
 * Runs `fn` with this thread in another network namespace and comes back. A socket keeps the namespace
 * it was created in, so this is only needed for the socket() call. Nothing may await inside.
 */
export function inNetns<T>(netns: string | undefined, fn: () => T): T {
  if (!netns) return fn();
  const path = netns.includes('/') ? netns : `/var/run/netns/${netns}`;
  const target = check(`open(${path})`, c().open([path, O_RDONLY | O_CLOEXEC]));
  let home = -1;
  try {
    home = check('open(/proc/thread-self/ns/net)', c().open(['/proc/thread-self/ns/net', O_RDONLY | O_CLOEXEC]));
    check(`setns(${path})`, c().setns([target, CLONE_NEWNET]));
    try {
      return fn();
    } finally {
      // Failing to return would leave the whole process in the wrong namespace: fail loudly.
      check('setns(back to the original namespace)', c().setns([home, CLONE_NEWNET]));
    }
  } finally {
    if (home >= 0) c().close([home]);
    c().close([target]);
  }
}
