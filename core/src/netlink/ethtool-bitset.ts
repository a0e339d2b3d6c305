// Bitsets of the ethtool generic netlink family (Documentation/networking/ethtool-netlink.rst, "Bit sets"):
// a nest in one of two forms. Compact: a size and 32-bit words of values (and of a mask, unless NOMASK).
// Verbose (bit by bit): a list of bits, each with its index and/or name and a VALUE flag. A bitset either
// pairs values with a mask (only the masked bits mean anything; in a request, only they change) or, with
// NOMASK, is a plain list of the bits that are set. Replies come verbose unless the request header asks
// for ETHTOOL_FLAG_COMPACT_BITSETS; we write requests verbose, by name, as ethtool(8) does.
import { attrList } from './genl.js';
import { attrStr, attrU32, parseAttrs, type MessageWriter } from './nl/attrs.js';

export const ETHTOOL_A_BITSET_NOMASK = 1;
export const ETHTOOL_A_BITSET_SIZE = 2;
export const ETHTOOL_A_BITSET_BITS = 3;
export const ETHTOOL_A_BITSET_VALUE = 4;
export const ETHTOOL_A_BITSET_MASK = 5;
export const ETHTOOL_A_BITSET_BITS_BIT = 1;
export const ETHTOOL_A_BITSET_BIT_INDEX = 1;
export const ETHTOOL_A_BITSET_BIT_NAME = 2;
export const ETHTOOL_A_BITSET_BIT_VALUE = 3;

/** One bit of a decoded bitset. `name` is absent in the compact form (names live in a string set). */
export interface EthtoolBit {
  /** The bit's position, 0 for the least significant. */
  index: number;
  /** Its name in the kernel's string set ("tx-checksum-ip-generic"). */
  name?: string;
  /** Set (with a mask: the masked value; without one: always true). */
  value: boolean;
}

/** A decoded bitset nest, whichever form it came in. */
export interface EthtoolBitset {
  /** Number of significant bits (0 when a verbose bitset leaves it out). */
  size: number;
  /** A plain list of set bits (no mask): `bits` holds only the bits that are set. */
  noMask: boolean;
  /** The bits the set speaks of, by ascending index: the masked ones, or (no mask) the set ones. */
  bits: EthtoolBit[];
}

const FLAG = new Uint8Array(0);

/**
 * A verbose bitset of named bits, written into the nest already open in `w`: with a mask (only the
 * listed bits change, each to its value), which is what a _SET request wants.
 */
export function writeNamedBits(w: MessageWriter, bits: Readonly<Record<string, boolean>>): void {
  w.nest(ETHTOOL_A_BITSET_BITS, () => {
    for (const [name, on] of Object.entries(bits)) {
      w.nest(ETHTOOL_A_BITSET_BITS_BIT, () => {
        w.str(ETHTOOL_A_BITSET_BIT_NAME, name);
        if (on) w.bytes(ETHTOOL_A_BITSET_BIT_VALUE, FLAG);
      });
    }
  });
}

/** A bitset nest's payload, in either form. */
export function decodeBitset(payload: Buffer): EthtoolBitset {
  const a = parseAttrs(payload);
  const noMask = a.has(ETHTOOL_A_BITSET_NOMASK);
  const size = attrU32(a.get(ETHTOOL_A_BITSET_SIZE)) ?? 0;
  const value = a.get(ETHTOOL_A_BITSET_VALUE);
  const bits = value ? compactBits(size, value, noMask ? undefined : a.get(ETHTOOL_A_BITSET_MASK)) : verboseBits(a.get(ETHTOOL_A_BITSET_BITS), noMask);
  return { size, noMask, bits: bits.sort((x, y) => x.index - y.index) };
}

/** Words are u32 in host (little-endian) order, least significant first. */
function compactBits(size: number, value: Buffer, mask: Buffer | undefined): EthtoolBit[] {
  const out: EthtoolBit[] = [];
  const bitAt = (b: Buffer, i: number) => 4 * (i >>> 5) + 4 <= b.length && ((b.readUInt32LE(4 * (i >>> 5)) >>> (i & 31)) & 1) === 1;
  for (let i = 0; i < size; i++) {
    const on = bitAt(value, i);
    if (mask ? bitAt(mask, i) : on) out.push({ index: i, value: on });
  }
  return out;
}

function verboseBits(list: Buffer | undefined, noMask: boolean): EthtoolBit[] {
  if (!list) return [];
  return attrList(list)
    .filter(([type]) => type === ETHTOOL_A_BITSET_BITS_BIT)
    .map(([, bit]) => {
      const b = parseAttrs(bit);
      const name = attrStr(b.get(ETHTOOL_A_BITSET_BIT_NAME));
      return {
        index: attrU32(b.get(ETHTOOL_A_BITSET_BIT_INDEX)) ?? -1,
        ...(name !== undefined ? { name } : {}),
        value: noMask || b.has(ETHTOOL_A_BITSET_BIT_VALUE),
      };
    });
}
