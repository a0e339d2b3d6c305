import { checkCall } from './errors.js';
import { checkLinkName } from './link.js';
import { c, ioctlInt, O_CLOEXEC, O_NONBLOCK, O_RDWR } from './socket/libc.js';
import { inNetns } from './socket/netlink-socket.js';

const TUNSETIFF = 0x400454ca;
const TUNSETPERSIST = 0x400454cb;
const IFF_TUN = 0x0001;
const IFF_NO_PI = 0x1000;

/** How tunOpen opens the queue. */
export interface TunOptions {
  /** A named network namespace (/var/run/netns/NAME) or a path to a namespace file. */
  netns?: string;
  /** Keep the device after the fd closes (`ip tuntap add`); a later tunOpen of the same name attaches to it. */
  persist?: boolean;
  /** Open the queue with O_NONBLOCK: a read with nothing queued fails with EAGAIN instead of waiting. */
  nonBlocking?: boolean;
}

export interface TunDevice {
  /** The open queue; packets are read from and written to it. Close it with closeTun. */
  fd: number;
  name: string;
}

/**
 * Creates (or attaches to) a TUN device without packet information (IFF_TUN | IFF_NO_PI: each read and
 * write is one bare IP packet): `ip tuntap add NAME mode tun` when `persist`, otherwise a device that lives
 * as long as the fd. A name with `%d` lets the kernel number it (flannel uses `flannel%d`); an existing
 * persistent device of that name is attached to (EBUSY if another fd holds it). The device is made in
 * `netns` (the namespace of the thread that issues TUNSETIFF).
 */
export function tunOpen(name: string, opts: TunOptions = {}): TunDevice {
  checkLinkName(name);
  return inNetns(opts.netns, () => {
    const flags = O_RDWR | O_CLOEXEC | (opts.nonBlocking ? O_NONBLOCK : 0);
    const fd = checkCall('open(/dev/net/tun)', c().open(['/dev/net/tun', flags]));
    try {
      const ifr = Buffer.alloc(40);
      ifr.write(name, 0, 15, 'utf8');
      ifr.writeUInt16LE(IFF_TUN | IFF_NO_PI, 16);
      checkCall(`ioctl(TUNSETIFF ${name})`, c().ioctl([fd, TUNSETIFF, ifr]));
      if (opts.persist) checkCall(`ioctl(TUNSETPERSIST ${name})`, ioctlInt(fd, TUNSETPERSIST, 1));
      return { fd, name: ifr.toString('utf8', 0, ifr.indexOf(0)) };
    } catch (err) {
      c().close([fd]);
      throw err;
    }
  });
}

export function closeTun(dev: TunDevice): void {
  c().close([dev.fd]);
}
