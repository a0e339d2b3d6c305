// The udp data path, run by the worker thread (proxy-worker.ts): Go's C proxy loop, in batches.
//
//   flannel0 ──read──▶ IPv4? ─▶ peer lookup ──none──▶ ICMP net-unreachable written back into flannel0
//                                   │
//                                   └─▶ TTL − 1 ─▶ batch ─▶ sendmmsg (runs to one peer: one GSO message)
//   udp port ──recvmmsg──▶ (GRO batches cut apart) ─▶ IPv4 for our subnet? ─▶ TTL − 1 ─▶ write to flannel0
//
// The UDP payload is the inner IP packet and nothing else, as Go sends it. The thread sleeps in poll() on
// flannel0, the socket and an eventfd the control thread writes to when it has posted a change (peers, a
// new flannel0 fd, stop). No packet waits anywhere but in the kernel's own bounded queues (flannel0's
// txqueue, the socket buffers): what cannot be sent at once is dropped and counted, so a slow or dead peer
// costs no memory here.
import { readSync, writeSync } from 'node:fs';
import { receiveMessageOnPort, type MessagePort } from 'node:worker_threads';
import { C } from './counters.js';
import { planMessages } from './gso.js';
import { Framer, IN_FOREIGN, IN_MALFORMED, IN_WRITE, OUT_MALFORMED, OUT_NO_ROUTE, OUT_SEND } from './framing.js';
import {
  EAGAIN,
  EINTR,
  EINVAL,
  EIO,
  EMSGSIZE,
  errnoName,
  libc,
  MSG_DONTWAIT,
  NativeMemory,
  POLLERR,
  POLLHUP,
  POLLIN,
  POLLNVAL,
  setThreadNice,
  SOL_UDP,
  UDP_GRO,
  UDP_SEGMENT,
} from './native.js';
import { PeerTable, type NextHop, type PeerTableOp } from './peer-table.js';

/** What the worker is started with (workerData), all of it cloneable. */
export interface ProxyInit {
  tunFd: number;
  udpFd: number;
  /** Written to (8 bytes) by the control thread after it posts on `port`. */
  eventFd: number;
  port: MessagePort;
  /** COUNTER_NAMES, as Float64s. */
  counters: SharedArrayBuffer;
  /**
   * Two Int32s. [CONTROL_FLAG]: set to 1 by the control thread when a message is waiting on `port`.
   * [QUEUE_STATE]: written by the worker: the generation of the flannel0 queue it reads (the first is 1,
   * each `tun` command brings the next), or minus it once that queue failed.
   */
  control: SharedArrayBuffer;
  /** Our subnet (network and mask as unsigned numbers): only packets to it are written to flannel0. */
  ownNet: number;
  ownMask: number;
  /** flannel0's address: the source of our ICMP net-unreachables. */
  tunIp: number;
  mtu: number;
  gso: boolean;
}

/** Indexes into ProxyInit.control. */
export const CONTROL_FLAG = 0;
export const QUEUE_STATE = 1;

/** Control thread → worker, on `port`. A `tun` queue of generation `gen` replaces the one the worker reads. */
export type ProxyCommand = { type: 'peers'; ops: PeerTableOp[] } | { type: 'tun'; fd: number; gen: number } | { type: 'stop' };
/** Worker → control thread, on `port`. `gen` names the flannel0 queue a notice is about. */
export type ProxyNotice =
  | { type: 'ready' }
  | { type: 'tun-attached'; gen: number }
  | { type: 'tun-lost'; code: string; gen: number }
  | { type: 'gso-off'; code: string; peer: string }
  | { type: 'nice-refused'; code: string }
  | { type: 'stopped' };

const BATCH = 64;
const RX_BATCH = 16;
/** A received message can be a GRO batch of up to 64 KiB. */
const RX_SLOT = 65536;
const MMSGHDR = 64;
const IOVEC = 16;
const SOCKADDR = 16;
/** CMSG_SPACE(sizeof(uint16_t)) for UDP_SEGMENT on send, CMSG_SPACE(sizeof(int)) for UDP_GRO on receive. */
const CMSG = 24;
/** Poll wakes up this often even when idle, so that a terminating process never waits on this thread for long. */
const POLL_MS = 250;
/**
 * The worker thread's nice value. flanneld's event loop and this thread share the node's CPUs with the
 * pods' traffic; when both want a CPU, a wake-up of the event loop (a timer, /healthz, a lease event) must
 * not wait for the proxy's time slice to end. Measured with `npm run bench -- udp` (see the root README).
 */
export const WORKER_NICE = 5;
/** Under load, control messages are looked at after this many rounds without a poll. */
const ROUNDS_PER_CONTROL_CHECK = 8;

const errnoOf = (err: unknown): string => (err as NodeJS.ErrnoException).code ?? 'EUNKNOWN';
/**
 * Whether a read or write error means the queue itself is gone: EBADFD is the kernel's word for a queue
 * whose device was deleted (EBADF for an fd closed under us). Anything else (EIO while flannel0 is down,
 * ENOBUFS, EINVAL for a packet it refuses) costs that packet only; giving up the queue for it would leave
 * a device that exists with nobody reading it.
 */
const queueGone = (code: string): boolean => code === 'EBADFD' || code === 'EBADF';

export class ProxyLoop {
  private readonly table = new PeerTable();
  private readonly framer: Framer;
  private readonly counters: Float64Array;
  private readonly control: Int32Array;
  private tunFd: number;
  /** Which queue tunFd is (see ProxyInit.control); it stays the lost one's while tunFd is -1. */
  private tunGen = 1;
  private readonly gso: boolean;
  private stopping = false;

  // flannel0 → peers: BATCH slots, each with its iovec, destination and GSO control message.
  private readonly tx: NativeMemory;
  private readonly txIov = BATCH * MMSGHDR;
  private readonly txAddr = this.txIov + BATCH * IOVEC;
  private readonly txCmsg = this.txAddr + BATCH * SOCKADDR;
  private readonly txSlots = this.txCmsg + BATCH * CMSG;
  private readonly slot: number;
  private readonly txViews: Buffer[] = [];
  private readonly hops: (NextHop | undefined)[] = new Array<NextHop | undefined>(BATCH);
  private readonly lens: number[] = new Array<number>(BATCH).fill(0);
  private readonly firsts: number[] = new Array<number>(BATCH).fill(0);
  private readonly counts: number[] = new Array<number>(BATCH).fill(0);

  // peers → flannel0: RX_BATCH messages of up to 64 KiB.
  private readonly rx: NativeMemory;
  private readonly rxIov = RX_BATCH * MMSGHDR;
  private readonly rxCmsg = this.rxIov + RX_BATCH * IOVEC;
  private readonly rxSlots = this.rxCmsg + RX_BATCH * CMSG;

  private readonly pollFds: NativeMemory;
  private readonly eventBuf = Buffer.alloc(8);

  constructor(private readonly init: ProxyInit) {
    this.counters = new Float64Array(init.counters);
    this.control = new Int32Array(init.control);
    this.tunFd = init.tunFd;
    Atomics.store(this.control, QUEUE_STATE, this.tunGen);
    this.gso = init.gso;
    this.framer = new Framer(this.table, init.tunIp, init.ownNet, init.ownMask);
    this.slot = Math.max(2048, Math.ceil((init.mtu + 64) / 64) * 64);

    this.tx = new NativeMemory(this.txSlots + BATCH * this.slot);
    for (let i = 0; i < BATCH; i++) {
      const slot = this.txSlots + i * this.slot;
      this.tx.writePointer(this.txIov + i * IOVEC, slot);
      const sa = this.txAddr + i * SOCKADDR;
      this.tx.buf.writeUInt16LE(2, sa); // AF_INET
      const cm = this.txCmsg + i * CMSG;
      this.tx.buf.writeBigUInt64LE(18n, cm); // CMSG_LEN(2)
      this.tx.buf.writeInt32LE(SOL_UDP, cm + 8);
      this.tx.buf.writeInt32LE(UDP_SEGMENT, cm + 12);
      this.txViews.push(this.tx.buf.subarray(slot, slot + this.slot));
    }

    this.rx = new NativeMemory(this.rxSlots + RX_BATCH * RX_SLOT);
    for (let i = 0; i < RX_BATCH; i++) {
      const m = i * MMSGHDR;
      const iov = this.rxIov + i * IOVEC;
      this.rx.writePointer(m + 16, iov);
      this.rx.buf.writeBigUInt64LE(1n, m + 24);
      this.rx.writePointer(m + 32, this.rxCmsg + i * CMSG);
      this.rx.buf.writeUInt32LE(CMSG, m + 40);
      this.rx.writePointer(iov, this.rxSlots + i * RX_SLOT);
      this.rx.buf.writeBigUInt64LE(BigInt(RX_SLOT), iov + 8);
    }

    this.pollFds = new NativeMemory(3 * 8);
    this.pollFds.buf.writeInt32LE(init.eventFd, 0);
    this.pollFds.buf.writeInt16LE(POLLIN, 4);
    this.pollFds.buf.writeInt32LE(this.tunFd, 8);
    this.pollFds.buf.writeInt16LE(POLLIN, 12);
    this.pollFds.buf.writeInt32LE(init.udpFd, 16);
    this.pollFds.buf.writeInt16LE(POLLIN, 20);
  }

  /** Runs until told to stop; then closes flannel0's fd and the socket, and frees its memory. */
  run(): void {
    // The event loop must win the CPU from this thread whenever it has work (see WORKER_NICE).
    const refused = setThreadNice(WORKER_NICE);
    if (refused) this.notify({ type: 'nice-refused', code: refused });
    this.notify({ type: 'ready' });
    const c = libc();
    // Reads of an empty flannel0 end in EAGAIN, which fs throws: without stack traces that costs little.
    Error.stackTraceLimit = 0;
    try {
      while (!this.stopping) {
        const polled = this.tunFd >= 0 ? this.tunGen : 0;
        const r = c.poll([this.pollFds.address, 3, POLL_MS]);
        if (r.value < 0 && r.errnoCode !== EINTR) throw new Error(`poll: ${errnoName(r.errnoCode)}`);
        if (Atomics.load(this.control, CONTROL_FLAG) !== 0) this.handleControl();
        if (this.stopping) break;
        // poll's verdict is about the queue it polled. When handleControl has just put a new queue in its
        // place (flannel0 deleted and made again: the old queue reports POLLERR), that verdict is stale:
        // taking it for the new queue's would close the new queue, and nothing would ever hand over another.
        const failed = (this.pollFds.buf.readInt16LE(14) & (POLLERR | POLLHUP | POLLNVAL)) !== 0;
        if (failed && polled !== 0 && polled === this.tunGen && this.tunFd >= 0) this.tunLost('EBADFD');
        let rounds = 0;
        while (!this.stopping) {
          const moved = (this.tunFd >= 0 ? this.fromTun() : 0) + this.fromUdp();
          if (moved === 0) break;
          if (++rounds % ROUNDS_PER_CONTROL_CHECK === 0 && Atomics.load(this.control, CONTROL_FLAG) !== 0) this.handleControl();
        }
      }
    } finally {
      this.closeTun();
      c.close([this.init.udpFd]);
      this.tx.free();
      this.rx.free();
      this.pollFds.free();
      this.notify({ type: 'stopped' });
    }
  }

  private handleControl(): void {
    Atomics.store(this.control, CONTROL_FLAG, 0);
    try {
      readSync(this.init.eventFd, this.eventBuf, 0, 8, null);
    } catch {
      // already read: the flag and the eventfd are set together, but a wake-up may have been consumed
    }
    for (let msg = receiveMessageOnPort(this.init.port); msg; msg = receiveMessageOnPort(this.init.port)) {
      const cmd = msg.message as ProxyCommand;
      if (cmd.type === 'peers') for (const op of cmd.ops) this.table.apply(op);
      else if (cmd.type === 'tun') this.replaceTun(cmd.fd, cmd.gen);
      else this.stopping = true;
    }
  }

  private replaceTun(fd: number, gen: number): void {
    this.closeTun();
    this.tunFd = fd;
    this.tunGen = gen;
    this.pollFds.buf.writeInt32LE(fd, 8);
    this.pollFds.buf.writeInt16LE(0, 14);
    Atomics.store(this.control, QUEUE_STATE, gen);
    this.notify({ type: 'tun-attached', gen });
  }

  private closeTun(): void {
    if (this.tunFd >= 0) libc().close([this.tunFd]);
    this.tunFd = -1;
    this.pollFds.buf.writeInt32LE(-1, 8);
  }

  /**
   * flannel0's device went away under us: stop reading it until the control thread hands over a new fd.
   * QUEUE_STATE says so, so that the control thread's next check attaches a new queue even if it never
   * saw the device go.
   */
  private tunLost(code: string): void {
    this.closeTun();
    Atomics.store(this.control, QUEUE_STATE, -this.tunGen);
    this.notify({ type: 'tun-lost', code, gen: this.tunGen });
  }

  private notify(n: ProxyNotice): void {
    this.init.port.postMessage(n);
  }

  /** Reads flannel0 until it is empty or a batch is full, and sends what is bound for peers. Returns packets read. */
  private fromTun(): number {
    const buf = this.tx.buf;
    const k = this.counters;
    let n = 0;
    let read = 0;
    // At most a batch of reads per call, so that a flood of packets to nowhere cannot starve the other direction.
    while (n < BATCH && read < BATCH && this.tunFd >= 0) {
      const view = this.txViews[n]!;
      let len: number;
      try {
        len = readSync(this.tunFd, view, 0, this.slot, null);
      } catch (err) {
        const code = errnoOf(err);
        if (queueGone(code)) this.tunLost(code);
        else if (code !== 'EAGAIN') this.counters[C.tunReadErrors]!++;
        break;
      }
      read++;
      const off = this.txSlots + n * this.slot;
      const verdict = this.framer.outbound(buf, off, len);
      if (verdict === OUT_MALFORMED) {
        k[C.malformed]!++;
        continue;
      }
      k[C.tunPackets]!++;
      k[C.tunBytes]! += len;
      if (verdict === OUT_NO_ROUTE) {
        k[C.noRoute]!++;
        const icmp = this.framer.icmpLength;
        if (icmp > 0 && this.writeTun(this.framer.icmp, 0, icmp)) k[C.icmpSent]!++;
        continue;
      }
      if (verdict !== OUT_SEND) {
        k[C.ttlExpired]!++;
        continue;
      }
      const hop = this.framer.hop!;
      const sa = this.txAddr + n * SOCKADDR;
      buf.writeUInt16BE(hop.port, sa + 2);
      buf.writeUInt32BE(hop.ip, sa + 4);
      buf.writeUInt32LE(len, this.txIov + n * IOVEC + 8);
      this.hops[n] = hop;
      this.lens[n] = len;
      n++;
    }
    if (n > 0) this.send(n);
    return read;
  }

  /** Sends the `n` queued packets; what the kernel refuses is dropped and counted, never kept. */
  private send(n: number): void {
    const k = this.counters;
    let msgs = planMessages(this.hops, this.lens, 0, n, this.gso, this.firsts, this.counts);
    for (let j = 0; j < msgs; j++) this.writeMessage(j, this.firsts[j]!, this.counts[j]!);
    let next = 0;
    const c = libc();
    while (next < msgs) {
      const r = c.sendmmsg([this.init.udpFd, this.tx.address + BigInt(next * MMSGHDR), msgs - next, 0]);
      if (r.value > 0) {
        for (let j = next; j < next + r.value; j++) {
          k[C.sentMessages]!++;
          k[C.sentPackets]! += this.counts[j]!;
          for (let p = this.firsts[j]!; p < this.firsts[j]! + this.counts[j]!; p++) k[C.sentBytes]! += this.lens[p]!;
        }
        next += r.value;
        continue;
      }
      const errno = r.errnoCode;
      if (errno === EINTR) continue;
      if (errno === EAGAIN) {
        // The socket buffer is full: the peer side of the kernel is behind. Drop, as a full NIC queue would.
        for (let j = next; j < msgs; j++) k[C.sendDropped]! += this.counts[j]!;
        return;
      }
      if ((errno === EIO || errno === EINVAL || errno === EMSGSIZE) && this.counts[next]! > 1) {
        // The way to this peer takes no UDP GSO (a path MTU below flannel0's + 28, IPsec): send to it one
        // datagram per message from now on (the kernel fragments what the path cannot carry, as for Go's).
        const p0 = this.firsts[next]!;
        const hop = this.hops[p0]!;
        hop.noGso = true;
        this.notify({ type: 'gso-off', code: errnoName(errno), peer: `${hop.ip >>> 24}.${(hop.ip >>> 16) & 0xff}.${(hop.ip >>> 8) & 0xff}.${hop.ip & 0xff}` });
        msgs = planMessages(this.hops, this.lens, p0, n, this.gso, this.firsts, this.counts, next);
        for (let j = next; j < msgs; j++) this.writeMessage(j, this.firsts[j]!, this.counts[j]!);
        continue;
      }
      // This datagram cannot go (no route to the peer, a firewall): drop it and carry on with the rest.
      k[C.sendDropped]! += this.counts[next]!;
      next++;
    }
  }

  /** Message `j` carries packets first..first+count-1, to first's next hop; with more than one, as a GSO message. */
  private writeMessage(j: number, first: number, count: number): void {
    const buf = this.tx.buf;
    const m = j * MMSGHDR;
    this.tx.writePointer(m, this.txAddr + first * SOCKADDR);
    buf.writeUInt32LE(SOCKADDR, m + 8);
    this.tx.writePointer(m + 16, this.txIov + first * IOVEC);
    buf.writeUInt32LE(count, m + 24);
    buf.writeUInt32LE(0, m + 28);
    if (count > 1) {
      const cm = this.txCmsg + first * CMSG;
      buf.writeUInt16LE(this.lens[first]!, cm + 16);
      this.tx.writePointer(m + 32, cm);
      buf.writeUInt32LE(CMSG, m + 40);
    } else {
      buf.writeUInt32LE(0, m + 32);
      buf.writeUInt32LE(0, m + 36);
      buf.writeUInt32LE(0, m + 40);
    }
    buf.writeUInt32LE(0, m + 44); // msg_controllen's upper half
    buf.writeUInt32LE(0, m + 48); // msg_flags
  }

  /** One recvmmsg; every datagram in it (GRO batches cut apart) that is for our subnet goes to flannel0. Returns messages received. */
  private fromUdp(): number {
    const buf = this.rx.buf;
    const k = this.counters;
    const r = libc().recvmmsg([this.init.udpFd, this.rx.address, RX_BATCH, MSG_DONTWAIT, 0]);
    if (r.value <= 0) {
      if (r.value < 0 && r.errnoCode !== EAGAIN && r.errnoCode !== EINTR) k[C.receiveErrors]!++;
      return 0;
    }
    k[C.receivedMessages]! += r.value;
    for (let i = 0; i < r.value; i++) {
      const m = i * MMSGHDR;
      const len = buf.readUInt32LE(m + 56);
      let seg = len;
      const cm = this.rxCmsg + i * CMSG;
      if (buf.readUInt32LE(m + 40) >= 20 && buf.readInt32LE(cm + 8) === SOL_UDP && buf.readInt32LE(cm + 12) === UDP_GRO) {
        seg = buf.readInt32LE(cm + 16) || len;
      }
      buf.writeUInt32LE(CMSG, m + 40); // the kernel wrote back what it used
      const base = this.rxSlots + i * RX_SLOT;
      for (let off = 0; off < len; off += seg) this.toTun(buf, base + off, Math.min(seg, len - off));
    }
    return r.value;
  }

  private toTun(buf: Buffer, off: number, len: number): void {
    const k = this.counters;
    k[C.receivedPackets]!++;
    k[C.receivedBytes]! += len;
    const verdict = this.framer.inbound(buf, off, len);
    if (verdict !== IN_WRITE) {
      k[verdict === IN_MALFORMED ? C.malformed : verdict === IN_FOREIGN ? C.foreign : C.ttlExpired]!++;
      return;
    }
    if (this.tunFd >= 0 && this.writeTun(buf, off, len)) k[C.tunWrites]!++;
  }

  private writeTun(buf: Buffer, off: number, len: number): boolean {
    try {
      writeSync(this.tunFd, buf, off, len);
      return true;
    } catch (err) {
      this.counters[C.tunWriteDropped]!++;
      const code = errnoOf(err);
      if (queueGone(code)) this.tunLost(code);
      return false;
    }
  }
}
