import { closeSync, openSync, readSync, writeSync } from 'node:fs';
import { inNetns } from './socket/netlink-socket.js';

/**
 * /proc/sys/net settings. A file under /proc/sys/net belongs to the namespace of whoever opened it, so
 * the file is opened inside `netns` and then read or written from here.
 * `key` uses slashes, as device names contain dots: `net/ipv6/conf/flannel.1/accept_ra`.
 */
export function sysctlGet(key: string, opts: { netns?: string } = {}): string {
  const fd = inNetns(opts.netns, () => openSync(procPath(key), 'r'));
  try {
    const buf = Buffer.alloc(4096);
    const n = readSync(fd, buf, 0, buf.length, 0);
    return buf.toString('utf8', 0, n).trim();
  } finally {
    closeSync(fd);
  }
}

export function sysctlSet(key: string, value: string | number, opts: { netns?: string } = {}): void {
  const fd = inNetns(opts.netns, () => openSync(procPath(key), 'w'));
  try {
    writeSync(fd, `${value}\n`);
  } finally {
    closeSync(fd);
  }
}

/** net.ipv4.ip_forward / net.ipv6.conf.all.forwarding */
export function setForwarding(family: 4 | 6, on: boolean, opts: { netns?: string } = {}): void {
  sysctlSet(family === 4 ? 'net/ipv4/ip_forward' : 'net/ipv6/conf/all/forwarding', on ? 1 : 0, opts);
}

/** net.ipv6.conf.DEV.accept_ra: flannel turns it off on its devices. */
export function setAcceptRa(dev: string, value: 0 | 1 | 2, opts: { netns?: string } = {}): void {
  sysctlSet(`net/ipv6/conf/${dev}/accept_ra`, value, opts);
}

function procPath(key: string): string {
  const rel = key.replace(/^\/?proc\/sys\//, '').replace(/^\//, '');
  if (rel.split('/').some((p) => p === '..' || p === '') || !rel.startsWith('net/')) {
    throw new RangeError(`not a net sysctl key: ${JSON.stringify(key)} (write it as net/ipv4/ip_forward)`);
  }
  return `/proc/sys/${rel}`;
}
