import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type * as FfiRs from 'ffi-rs';

/**
 * ffi-rs, loaded on first use, so that importing core does not load a native library (the CNI plugin
 * never touches netlink). ffi-rs picks its glibc or musl build with process.report.getReport(), which
 * gathers a whole diagnostic report (~4 ms of every start) to read one header field; while it loads,
 * that field is answered from the C library mapped into this process instead.
 */
function loadFfiRs(): typeof FfiRs {
  const require = createRequire(import.meta.url);
  const report = process.report;
  const runtime = mappedLibc(readMaps());
  if (!report || runtime === undefined) return require('ffi-rs') as typeof FfiRs;
  const getReport = report.getReport;
  report.getReport = () => ({ header: { glibcVersionRuntime: runtime === 'glibc' ? 'unknown' : undefined } }) as unknown as object;
  try {
    return require('ffi-rs') as typeof FfiRs;
  } finally {
    report.getReport = getReport;
  }
}

function readMaps(): string {
  try {
    return readFileSync('/proc/self/maps', 'utf8');
  } catch {
    return '';
  }
}

/**
 * Which C library a process runs on, from its memory map (/proc/self/maps); undefined when that cannot be
 * told. glibc maps libc.so.6 (before 2.34, libc-2.NN.so); musl maps its loader, ld-musl-<arch>.so.1.
 */
export function mappedLibc(maps: string): 'glibc' | 'musl' | undefined {
  if (/\/ld-musl-[^/\s]*\.so/.test(maps)) return 'musl';
  if (/\/libc(\.so\.6|-2\.\d+\.so)$/m.test(maps)) return 'glibc';
  return undefined;
}

let ffi: typeof FfiRs | undefined;
const ffiRs = (): typeof FfiRs => (ffi ??= loadFfiRs());

/** The libc calls netlink needs, through ffi-rs. */
function bind() {
  const { DataType, define, open } = ffiRs();
  open({ library: 'libc', path: 'libc.so.6' });
  const L = 'libc';
  const I32 = DataType.I32;
  const I64 = DataType.I64;
  const BUF = DataType.U8Array;
  const PTR = DataType.BigInt;
  return define({
    socket: { library: L, retType: I32, paramsType: [I32, I32, I32], errno: true },
    bind: { library: L, retType: I32, paramsType: [I32, BUF, I32], errno: true },
    setsockopt: { library: L, retType: I32, paramsType: [I32, I32, I32, BUF, I32], errno: true },
    getsockname: { library: L, retType: I32, paramsType: [I32, BUF, BUF], errno: true },
    sendto: { library: L, retType: I64, paramsType: [I32, BUF, I64, I32, BUF, I32], errno: true },
    recv: { library: L, retType: I64, paramsType: [I32, BUF, I64, I32], errno: true },
    recvmmsg: { library: L, retType: I32, paramsType: [I32, PTR, I32, I32, I64], errno: true },
    open: { library: L, retType: I32, paramsType: [DataType.String, I32], errno: true },
    close: { library: L, retType: I32, paramsType: [I32] },
    setns: { library: L, retType: I32, paramsType: [I32, I32], errno: true },
    ioctl: { library: L, retType: I32, paramsType: [I32, I64, BUF], errno: true },
    malloc: { library: L, retType: PTR, paramsType: [I64] },
    free: { library: L, retType: DataType.Void, paramsType: [PTR] },
    // memmove(p, p, 0) returns p: the one way to turn an address into a pointer ffi-rs can wrap.
    memmove: { library: L, retType: DataType.External, paramsType: [PTR, PTR, I64] },
  });
}

let libc: ReturnType<typeof bind> | undefined;

export function c(): ReturnType<typeof bind> {
  libc ??= bind();
  return libc;
}

/** ioctl with an integer argument (define() names functions by their key, so this variant uses load). */
export function ioctlInt(fd: number, request: number, value: number): { value: number; errnoCode: number } {
  c();
  const { DataType, load } = ffiRs();
  return load({
    library: 'libc',
    funcName: 'ioctl',
    retType: DataType.I32,
    paramsType: [DataType.I32, DataType.I64, DataType.I64],
    paramsValue: [fd, request, value],
    errno: true,
  }) as unknown as { value: number; errnoCode: number };
}

/** Native memory that the kernel can write into through pointers, seen from JS as a Buffer (no copy). */
export class NativeArena {
  readonly address: bigint;
  readonly buf: Buffer;
  private freed = false;

  constructor(readonly size: number) {
    this.address = BigInt(c().malloc([size]) as unknown as bigint);
    if (this.address === 0n) throw new Error(`malloc(${size}) failed`);
    this.buf = ffiRs().createExternalBuffer(c().memmove([this.address, this.address, 0]), size);
    this.buf.fill(0);
  }

  free(): void {
    if (this.freed) return;
    this.freed = true;
    c().free([this.address]);
  }
}

export const SOCK_RAW = 3;
export const SOCK_NONBLOCK = 0x800;
export const SOCK_CLOEXEC = 0x80000;
export const O_RDONLY = 0;
export const O_RDWR = 2;
export const O_NONBLOCK = 0x800;
export const O_CLOEXEC = 0x80000;
export const CLONE_NEWNET = 0x40000000;
export const SOL_SOCKET = 1;
export const SO_RCVBUFFORCE = 33;
export const SO_SNDBUFFORCE = 32;
export const SO_RCVTIMEO = 20;
export const MSG_DONTWAIT = 0x40;
export const MSG_TRUNC = 0x20;
export const MSG_WAITFORONE = 0x10000;
