import { constants } from 'node:os';

const NAMES = new Map<number, string>(Object.entries(constants.errno).map(([name, n]) => [n, name]));

const TEXT: Record<string, string> = {
  EPERM: 'operation not permitted',
  ENOENT: 'no such file or directory',
  ESRCH: 'no such process',
  EAGAIN: 'resource temporarily unavailable',
  ENOMEM: 'cannot allocate memory',
  EBUSY: 'device or resource busy',
  EEXIST: 'file exists',
  ENODEV: 'no such device',
  EINVAL: 'invalid argument',
  ERANGE: 'numerical result out of range',
  EOPNOTSUPP: 'operation not supported',
  EAFNOSUPPORT: 'address family not supported by protocol',
  EADDRNOTAVAIL: 'cannot assign requested address',
  ENETUNREACH: 'network is unreachable',
  ENOBUFS: 'no buffer space available',
  EHOSTUNREACH: 'no route to host',
};

export function errnoName(errno: number): string {
  return NAMES.get(errno) ?? `errno ${errno}`;
}

/**
 * A request the kernel refused, or a socket call that failed. `code` is the errno name (EEXIST, ENOENT,
 * ENODEV, ...) and `extAck` the kernel's own explanation when it gave one (NETLINK_EXT_ACK).
 */
export class NetlinkError extends Error {
  override readonly name = 'NetlinkError';
  readonly code: string;

  constructor(
    readonly op: string,
    readonly errno: number,
    readonly extAck?: string,
  ) {
    const code = errnoName(errno);
    super(`${op}: ${TEXT[code] ?? code} (${code})${extAck ? `: ${extAck}` : ''}`);
    this.code = code;
  }
}

/** The value of an ffi libc call, or a NetlinkError naming `what` when the call returned < 0. */
export function checkCall<T extends number | bigint>(what: string, r: { value: T; errnoCode: number }): number {
  const v = Number(r.value);
  if (v < 0) throw new NetlinkError(what, r.errnoCode);
  return v;
}

/** Input rejected before anything was sent to the kernel. */
export class NetlinkArgumentError extends Error {
  override readonly name = 'NetlinkArgumentError';
}
