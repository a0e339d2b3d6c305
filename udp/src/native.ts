// The libc calls of the udp data path, through ffi-rs (as core's netlink library makes its own): the UDP
// socket, an eventfd to wake the worker, poll, and recvmmsg/sendmmsg over native memory. Bound on first use,
// once per thread, so that importing this package loads no native library.
import { constants } from 'node:os';
import { createExternalBuffer, DataType, define, open } from 'ffi-rs';

function bind() {
  open({ library: 'libc', path: 'libc.so.6' });
  const L = 'libc';
  const I32 = DataType.I32;
  const I64 = DataType.I64;
  const PTR = DataType.BigInt;
  return define({
    socket: { library: L, retType: I32, paramsType: [I32, I32, I32], errno: true },
    bind: { library: L, retType: I32, paramsType: [I32, DataType.U8Array, I32], errno: true },
    setsockopt: { library: L, retType: I32, paramsType: [I32, I32, I32, DataType.U8Array, I32], errno: true },
    ioctl: { library: L, retType: I32, paramsType: [I32, I64, DataType.U8Array], errno: true },
    eventfd: { library: L, retType: I32, paramsType: [I32, I32], errno: true },
    close: { library: L, retType: I32, paramsType: [I32] },
    poll: { library: L, retType: I32, paramsType: [PTR, I32, I32], errno: true },
    sendmmsg: { library: L, retType: I32, paramsType: [I32, PTR, I32, I32], errno: true },
    recvmmsg: { library: L, retType: I32, paramsType: [I32, PTR, I32, I32, I64], errno: true },
    malloc: { library: L, retType: PTR, paramsType: [I64] },
    free: { library: L, retType: DataType.Void, paramsType: [PTR] },
    // memmove(p, p, 0) returns p: the one way to turn an address into a pointer ffi-rs can wrap.
    memmove: { library: L, retType: DataType.External, paramsType: [PTR, PTR, I64] },
    gettid: { library: L, retType: I32, paramsType: [] },
    setpriority: { library: L, retType: I32, paramsType: [I32, I32, I32], errno: true },
  });
}

let bound: ReturnType<typeof bind> | undefined;

export function libc(): ReturnType<typeof bind> {
  bound ??= bind();
  return bound;
}

export const AF_INET = 2;
const SOCK_DGRAM = 2;
const SOCK_NONBLOCK = 0x800;
const SOCK_CLOEXEC = 0x80000;
const SOL_SOCKET = 1;
const SO_SNDBUF = 7;
const SO_RCVBUF = 8;
const SO_SNDBUFFORCE = 32;
const SO_RCVBUFFORCE = 33;
export const SOL_UDP = 17;
/** Send: one message carries several datagrams of one size (UDP GSO), the kernel cuts them apart. */
export const UDP_SEGMENT = 103;
/** Receive: datagrams of one flow may arrive glued together, with their size in a control message (UDP GRO). */
export const UDP_GRO = 104;
const EFD_NONBLOCK = 0x800;
const EFD_CLOEXEC = 0x80000;
export const POLLIN = 0x1;
export const POLLERR = 0x8;
export const POLLHUP = 0x10;
export const POLLNVAL = 0x20;
export const MSG_DONTWAIT = 0x40;

const ERRNO_NAMES = new Map(Object.entries(constants.errno).map(([name, n]) => [n, name]));
export const errnoName = (n: number): string => ERRNO_NAMES.get(n) ?? `errno ${n}`;
export const { EAGAIN, EINTR, EINVAL, EIO, EMSGSIZE } = constants.errno;

export class NativeError extends Error {
  override readonly name = 'NativeError';
  readonly code: string;
  constructor(
    readonly call: string,
    readonly errno: number,
  ) {
    super(`${call}: ${errnoName(errno)}`);
    this.code = errnoName(errno);
  }
}

function check(call: string, r: { value: number; errnoCode: number }): number {
  if (r.value < 0) throw new NativeError(call, r.errnoCode);
  return r.value;
}

function setInt(fd: number, level: number, name: number, value: number): boolean {
  const v = Buffer.alloc(4);
  v.writeInt32LE(value);
  return libc().setsockopt([fd, level, name, v, 4]).value === 0;
}

export interface UdpSocket {
  fd: number;
  /** Whether the kernel hands us glued datagrams (UDP_GRO); without it every message is one datagram. */
  gro: boolean;
}

/**
 * A non-blocking IPv4 UDP socket bound to `ip:port` (numbers), with `bufferBytes` of send and receive buffer
 * (forced past rmem_max/wmem_max when we may; a burst from a busy peer then waits in the kernel instead of
 * being dropped while the worker is descheduled) and UDP GRO asked for where the kernel has it.
 */
export function openUdpSocket(ip: number, port: number, bufferBytes: number): UdpSocket {
  const c = libc();
  const fd = check('socket(AF_INET, SOCK_DGRAM)', c.socket([AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0]));
  try {
    if (!setInt(fd, SOL_SOCKET, SO_RCVBUFFORCE, bufferBytes)) setInt(fd, SOL_SOCKET, SO_RCVBUF, bufferBytes);
    if (!setInt(fd, SOL_SOCKET, SO_SNDBUFFORCE, bufferBytes)) setInt(fd, SOL_SOCKET, SO_SNDBUF, bufferBytes);
    const gro = setInt(fd, SOL_UDP, UDP_GRO, 1);
    const sa = Buffer.alloc(16);
    sa.writeUInt16LE(AF_INET, 0);
    sa.writeUInt16BE(port, 2);
    sa.writeUInt32BE(ip >>> 0, 4);
    check(`bind(${ip >>> 24}.${(ip >>> 16) & 0xff}.${(ip >>> 8) & 0xff}.${ip & 0xff}:${port})`, c.bind([fd, sa, 16]));
    return { fd, gro };
  } catch (err) {
    c.close([fd]);
    throw err;
  }
}

const SIOCSIFTXQLEN = 0x8943;

/** `ip link set NAME txqueuelen LEN`, through the SIOCSIFTXQLEN ioctl (rtnetlink's IFLA_TXQLEN is not in core's library). */
export function setTxQueueLen(name: string, len: number): void {
  const c = libc();
  const fd = check('socket(AF_INET, SOCK_DGRAM)', c.socket([AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0]));
  try {
    const ifr = Buffer.alloc(40);
    ifr.write(name, 0, 15, 'utf8');
    ifr.writeInt32LE(len, 16);
    check(`ioctl(SIOCSIFTXQLEN ${name} ${len})`, c.ioctl([fd, SIOCSIFTXQLEN, ifr]));
  } finally {
    c.close([fd]);
  }
}

/** An eventfd for waking a thread blocked in poll: write 8 bytes to it, the sleeper reads them back. */
export function openEventFd(): number {
  return check('eventfd', libc().eventfd([0, EFD_NONBLOCK | EFD_CLOEXEC]));
}

const PRIO_PROCESS = 0;

/**
 * Sets the nice value of the calling thread alone (Linux keeps one per thread; setpriority on a thread id
 * changes only that thread). Raising it needs no privilege. Returns the errno's name when refused.
 */
export function setThreadNice(nice: number): string | undefined {
  const c = libc();
  const r = c.setpriority([PRIO_PROCESS, c.gettid([]), nice]);
  return r.value === 0 ? undefined : errnoName(r.errnoCode);
}

export function closeFd(fd: number): void {
  if (fd >= 0) libc().close([fd]);
}

/** Native memory that the kernel reads and writes through pointers, seen from JS as a Buffer (no copy). */
export class NativeMemory {
  readonly address: bigint;
  readonly buf: Buffer;
  private freed = false;

  constructor(readonly size: number) {
    const c = libc();
    this.address = BigInt(c.malloc([size]) as unknown as bigint);
    if (this.address === 0n) throw new Error(`malloc(${size}) failed`);
    this.buf = createExternalBuffer(c.memmove([this.address, this.address, 0]), size);
    this.buf.fill(0);
  }

  /** Writes the address of byte `offset` of this memory as a 64-bit pointer at `at`. */
  writePointer(at: number, offset: number): void {
    this.buf.writeBigUInt64LE(this.address + BigInt(offset), at);
  }

  free(): void {
    if (this.freed) return;
    this.freed = true;
    libc().free([this.address]);
  }
}
