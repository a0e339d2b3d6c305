// Device features (offloads) over the ethtool generic netlink family (include/uapi/linux/ethtool_netlink.h):
// ETHTOOL_MSG_FEATURES_GET (`ethtool -k DEV`) and ETHTOOL_MSG_FEATURES_SET (`ethtool -K DEV NAME on|off`).
// The family has no fixed header; every message starts with a nested request header naming the device.
// Features are named bits ("tx-checksum-ip-generic"); names are stable, indices are the kernel's own.
// FEATURES_SET arrived in Linux 5.7 (the family itself in 5.6): older kernels go through ethtool-ioctl.ts.
import { decodeBitset, writeNamedBits, type EthtoolBitset } from './ethtool-bitset.js';
import { writeGenlHeader } from './genl.js';
import { checkLinkName } from './link.js';
import { attrStr, attrU32, parseAttrs, type MessageWriter } from './nl/attrs.js';
import { GENL_HDRLEN } from './nl/constants.js';
import type { NetlinkRequest } from './socket/netlink-socket.js';

export const ETHTOOL_GENL_NAME = 'ethtool';
export const ETHTOOL_GENL_VERSION = 1;
export const ETHTOOL_MSG_FEATURES_GET = 11;
export const ETHTOOL_MSG_FEATURES_SET = 12;
export const ETHTOOL_A_HEADER_DEV_INDEX = 1;
export const ETHTOOL_A_HEADER_DEV_NAME = 2;
export const ETHTOOL_A_HEADER_FLAGS = 3;
/** Reply bitsets in the compact form (no names). */
export const ETHTOOL_FLAG_COMPACT_BITSETS = 1 << 0;
/** No FEATURES_SET_REPLY, only the ack. */
export const ETHTOOL_FLAG_OMIT_REPLY = 1 << 1;
export const ETHTOOL_A_FEATURES_HEADER = 1;
export const ETHTOOL_A_FEATURES_HW = 2;
export const ETHTOOL_A_FEATURES_WANTED = 3;
export const ETHTOOL_A_FEATURES_ACTIVE = 4;
export const ETHTOOL_A_FEATURES_NOCHANGE = 5;

/** ethtool(8)'s legacy `tx` switch stands for every feature of this prefix (ipv4, ip-generic, ipv6, fcoe-crc, sctp). */
export const TX_CHECKSUM_PREFIX = 'tx-checksum-';

/** One feature as `ethtool -k` shows it: `name: on|off`, with `[fixed]` when it is not changeable. */
export interface EthtoolFeature {
  /** The kernel's name for it ("tx-checksum-ip-generic"), or `#INDEX` for a bit it leaves unnamed. */
  name: string;
  /** Its bit in the kernel's netdev_features_t (differs between kernels: go by name). */
  index: number;
  /** In effect now (dev->features). */
  active: boolean;
  /** Asked for (dev->wanted_features); the kernel may keep a wanted feature off when another needs it. */
  wanted: boolean;
  /** The device lets it change (in hw_features and not NETIF_F_NEVER_CHANGE). */
  changeable: boolean;
}

/** A device's features as FEATURES_GET_REPLY gives them. */
export interface EthtoolFeatures {
  /** The device's name, from the reply header. */
  device: string;
  /** Its interface index, from the reply header. */
  ifindex: number;
  /** Every feature this kernel knows, by ascending bit index. */
  features: EthtoolFeature[];
}

/**
 * `ethtool -k DEVICE`: FEATURES_GET, answered by one FEATURES_GET_REPLY (decodeEthtoolFeatures). Verbose
 * bitsets carry the feature names; `compact` asks for bare bitmaps instead.
 */
export function ethtoolFeaturesGet(device: string, opts: { compact?: boolean } = {}): NetlinkRequest {
  checkLinkName(device);
  return {
    op: `ethtool -k ${device}`,
    type: 0,
    flags: 0,
    genlFamily: ETHTOOL_GENL_NAME,
    body: (w) => {
      writeGenlHeader(w, ETHTOOL_MSG_FEATURES_GET, ETHTOOL_GENL_VERSION);
      writeRequestHeader(w, ETHTOOL_A_FEATURES_HEADER, device, opts.compact ? ETHTOOL_FLAG_COMPACT_BITSETS : 0);
    },
  };
}

/**
 * `ethtool -K DEVICE NAME on|off ...`: FEATURES_SET with the wanted features as a verbose bitset by name,
 * the features left out untouched. The message is the one ethtool(8) sends, except that we ask for no
 * reply (read the result back with FEATURES_GET). A feature the device cannot change is ignored by the
 * kernel, not refused; a name the kernel does not know fails the request (EINVAL).
 */
export function ethtoolFeaturesSet(device: string, wanted: Readonly<Record<string, boolean>>): NetlinkRequest {
  checkLinkName(device);
  const changes = Object.entries(wanted).map(([name, on]) => `${name} ${on ? 'on' : 'off'}`);
  return {
    op: `ethtool -K ${device} ${changes.join(' ')}`,
    type: 0,
    flags: 0,
    genlFamily: ETHTOOL_GENL_NAME,
    body: (w) => {
      writeGenlHeader(w, ETHTOOL_MSG_FEATURES_SET, ETHTOOL_GENL_VERSION);
      writeRequestHeader(w, ETHTOOL_A_FEATURES_HEADER, device, ETHTOOL_FLAG_OMIT_REPLY);
      w.nest(ETHTOOL_A_FEATURES_WANTED, () => writeNamedBits(w, wanted));
    },
  };
}

function writeRequestHeader(w: MessageWriter, type: number, device: string, flags: number): void {
  w.nest(type, () => {
    w.str(ETHTOOL_A_HEADER_DEV_NAME, device);
    if (flags) w.u32(ETHTOOL_A_HEADER_FLAGS, flags);
  });
}

/**
 * A FEATURES_GET_REPLY payload (genl header, then attributes). Compact replies carry no names: pass the
 * kernel's feature names by index (the "features" string set, or a verbose reply's); a feature without a
 * name is called `#INDEX`.
 */
export function decodeEthtoolFeatures(payload: Buffer, names: readonly string[] = []): EthtoolFeatures {
  const a = parseAttrs(payload, GENL_HDRLEN);
  const header = parseAttrs(a.get(ETHTOOL_A_FEATURES_HEADER) ?? Buffer.alloc(0));
  const bitset = (type: number): EthtoolBitset => {
    const nest = a.get(type);
    if (!nest) throw new Error(`ethtool features reply without attribute ${type}`);
    return decodeBitset(nest);
  };
  const setOf = (b: EthtoolBitset) => new Set(b.bits.filter((bit) => bit.value).map((bit) => bit.index));
  const wanted = setOf(bitset(ETHTOOL_A_FEATURES_WANTED));
  const active = setOf(bitset(ETHTOOL_A_FEATURES_ACTIVE));
  const fixed = setOf(bitset(ETHTOOL_A_FEATURES_NOCHANGE));
  // HW comes with a mask of every feature the kernel knows, so it lists them all (and names them all).
  const features = bitset(ETHTOOL_A_FEATURES_HW).bits.map((bit) => ({
    name: bit.name || names[bit.index] || `#${bit.index}`, // the kernel leaves unused bits unnamed
    index: bit.index,
    active: active.has(bit.index),
    wanted: wanted.has(bit.index),
    changeable: bit.value && !fixed.has(bit.index),
  }));
  return {
    device: attrStr(header.get(ETHTOOL_A_HEADER_DEV_NAME)) ?? '',
    ifindex: attrU32(header.get(ETHTOOL_A_HEADER_DEV_INDEX)) ?? 0,
    features,
  };
}

/** What `ethtool -K DEVICE tx on|off` asks for: every tx-checksum-* feature the kernel knows, on or off. */
export function txChecksumWanted(f: EthtoolFeatures, on: boolean): Record<string, boolean> {
  return Object.fromEntries(f.features.filter((x) => x.name.startsWith(TX_CHECKSUM_PREFIX)).map((x) => [x.name, on]));
}

/**
 * Why the device's TX checksum offload is not as asked, or undefined when it is. Off means no
 * tx-checksum-* feature in effect; on means at least one (a device offers one kind, e.g. ip-generic).
 */
export function txChecksumProblem(f: EthtoolFeatures, on: boolean): string | undefined {
  const tx = f.features.filter((x) => x.name.startsWith(TX_CHECKSUM_PREFIX));
  const fixedNote = (x: EthtoolFeature) => (x.changeable ? '' : ' ([fixed]: the device does not let it change)');
  if (!on) {
    const stayed = tx.filter((x) => x.active);
    return stayed.length === 0 ? undefined : `${stayed.map((x) => `${x.name}${fixedNote(x)}`).join(', ')} stayed on`;
  }
  if (tx.some((x) => x.active)) return undefined;
  return tx.some((x) => x.changeable) ? `no ${TX_CHECKSUM_PREFIX}* feature came on` : `the device has no changeable ${TX_CHECKSUM_PREFIX}* feature`;
}
