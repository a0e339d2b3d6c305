// TX checksum offload through the SIOCETHTOOL ioctl, for kernels without ETHTOOL_MSG_FEATURES_SET (before
// Linux 5.7, which are the very kernels where vxlan's ChecksumOffload "auto" turns offload off). The legacy
// ETHTOOL_STXCSUM command is `ethtool -K DEV tx on|off` there: the kernel sets every TX checksum feature
// the device can change (NETIF_F_CSUM_MASK, FCoE CRC, SCTP CRC), or fails with EOPNOTSUPP if it can change
// none. ETHTOOL_GTXCSUM reads back whether any of them is in effect.
import { checkCall } from './errors.js';
import { checkLinkName } from './link.js';
import { AF_INET } from './nl/constants.js';
import { c, NativeArena, SOCK_CLOEXEC } from './socket/libc.js';
import { inNetns } from './socket/netlink-socket.js';

const SIOCETHTOOL = 0x8946;
const ETHTOOL_GTXCSUM = 0x16;
const ETHTOOL_STXCSUM = 0x17;
const SOCK_DGRAM = 2;
/** struct ifreq: the name (IFNAMSIZ 16 bytes), then a union whose ifr_data is a pointer; 40 bytes on 64-bit. */
const IFREQ = 40;

/** `ethtool -K DEVICE tx on|off` through SIOCETHTOOL in `netns`; returns the state read back after. */
export function ioctlSetTxChecksum(netns: string | undefined, device: string, on: boolean): boolean {
  return withEthtoolIoctl(netns, device, (run) => {
    run(ETHTOOL_STXCSUM, on ? 1 : 0, `ethtool -K ${device} tx ${on ? 'on' : 'off'} (SIOCETHTOOL)`);
    return run(ETHTOOL_GTXCSUM, 0, `ethtool -k ${device} (SIOCETHTOOL)`) !== 0;
  });
}

/** Whether any TX checksum feature of DEVICE is in effect (`tx-checksumming` in `ethtool -k`), through SIOCETHTOOL. */
export function ioctlGetTxChecksum(netns: string | undefined, device: string): boolean {
  return withEthtoolIoctl(netns, device, (run) => run(ETHTOOL_GTXCSUM, 0, `ethtool -k ${device} (SIOCETHTOOL)`) !== 0);
}

type RunValueCommand = (cmd: number, data: number, what: string) => number;

/**
 * An AF_INET socket made in `netns` (SIOCETHTOOL acts on the socket's namespace) and a struct
 * ethtool_value {u32 cmd; u32 data} in native memory, which ifr_data points at and the kernel reads and
 * writes. Both are released when `fn` returns.
 */
function withEthtoolIoctl<T>(netns: string | undefined, device: string, fn: (run: RunValueCommand) => T): T {
  checkLinkName(device);
  const fd = inNetns(netns, () => checkCall('socket(AF_INET, SOCK_DGRAM)', c().socket([AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0])));
  const value = new NativeArena(8);
  try {
    const ifr = Buffer.alloc(IFREQ);
    ifr.write(device, 0, 15, 'utf8');
    ifr.writeBigUInt64LE(value.address, 16);
    return fn((cmd, data, what) => {
      value.buf.writeUInt32LE(cmd, 0);
      value.buf.writeUInt32LE(data, 4);
      checkCall(what, c().ioctl([fd, SIOCETHTOOL, ifr]));
      return value.buf.readUInt32LE(4);
    });
  } finally {
    value.free();
    c().close([fd]);
  }
}
