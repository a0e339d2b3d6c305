import { decodeBitset } from './ethtool-bitset.js';
import {
  decodeEthtoolFeatures,
  ETHTOOL_A_FEATURES_ACTIVE,
  ETHTOOL_A_FEATURES_HEADER,
  ETHTOOL_A_FEATURES_HW,
  ETHTOOL_A_FEATURES_NOCHANGE,
  ETHTOOL_A_FEATURES_WANTED,
  ETHTOOL_A_HEADER_DEV_INDEX,
  ETHTOOL_A_HEADER_DEV_NAME,
  ETHTOOL_MSG_FEATURES_GET,
  ethtoolFeaturesGet,
  ethtoolFeaturesSet,
  txChecksumProblem,
  txChecksumWanted,
  type EthtoolFeature,
} from './ethtool.js';
import { NetlinkArgumentError, NetlinkError } from './errors.js';
import { writeGenlHeader } from './genl.js';
import { lacksEthtoolFeaturesNetlink } from './handle.js';
import { MessageWriter } from './nl/attrs.js';
import type { NetlinkRequest } from './socket/netlink-socket.js';

const body = (r: NetlinkRequest) => {
  const w = new MessageWriter();
  r.body(w);
  return w.toBuffer().toString('hex');
};

const TX_NAMES = ['tx-checksum-ipv4', 'tx-checksum-ip-generic', 'tx-checksum-ipv6', 'tx-checksum-fcoe-crc', 'tx-checksum-sctp'];
const all = (on: boolean) => Object.fromEntries(TX_NAMES.map((n) => [n, on]));

// What Debian's ethtool 6.1 sent to Linux 6.18 for `ethtool -K vx1 tx on|off` (strace, after the genl
// header; padding bytes zeroed: ethtool leaves garbage there). Its header asks for compact replies
// (FLAGS 1); ours asks for no reply (FLAGS 2), the one difference.
const ETHTOOL_TX_ON =
  '0c0100001400018008000200767831000800030001000000b0000380ac000380200001801500020074782d636865636b73756d2d697076340000000004000300' +
  '240001801b00020074782d636865636b73756d2d69702d67656e65726963000004000300200001801500020074782d636865636b73756d2d697076360000000004000300' +
  '240001801900020074782d636865636b73756d2d66636f652d6372630000000004000300200001801500020074782d636865636b73756d2d736374700000000004000300';
const ETHTOOL_TX_OFF =
  '0c01000014000180080002007678310008000300010000009c000380980003801c0001801500020074782d636865636b73756d2d6970763400000000' +
  '200001801b00020074782d636865636b73756d2d69702d67656e6572696300001c0001801500020074782d636865636b73756d2d6970763600000000' +
  '200001801900020074782d636865636b73756d2d66636f652d637263000000001c0001801500020074782d636865636b73756d2d7363747000000000';
const asOurs = (hex: string) => hex.replace('0800030001000000', '0800030002000000');

describe('ethtool FEATURES requests', () => {
  it('FEATURES_SET for `tx on` is byte for byte what ethtool sends, but for the reply flag', () => {
    const r = ethtoolFeaturesSet('vx1', all(true));
    expect(body(r)).toBe(asOurs(ETHTOOL_TX_ON));
    expect(r).toMatchObject({ genlFamily: 'ethtool', flags: 0 });
    expect(r.op).toBe('ethtool -K vx1 tx-checksum-ipv4 on tx-checksum-ip-generic on tx-checksum-ipv6 on tx-checksum-fcoe-crc on tx-checksum-sctp on');
  });

  it('FEATURES_SET for `tx off` leaves out the VALUE flags, as ethtool does', () => {
    expect(body(ethtoolFeaturesSet('vx1', all(false)))).toBe(asOurs(ETHTOOL_TX_OFF));
  });

  it('FEATURES_GET names the device and asks for verbose bitsets (no flags), or compact ones', () => {
    // ethtool -k vx1 sends the compact form: the same bytes with a FLAGS attribute of 1.
    expect(body(ethtoolFeaturesGet('vx1'))).toBe('0b0100000c0001800800020076783100');
    expect(body(ethtoolFeaturesGet('vx1', { compact: true }))).toBe('0b010000140001800800020076783100' + '0800030001000000');
    expect(ethtoolFeaturesGet('vx1').op).toBe('ethtool -k vx1');
  });

  it('refuses a device name the kernel could not have, before sending anything', () => {
    expect(() => ethtoolFeaturesGet('a-name-far-too-long')).toThrow(NetlinkArgumentError);
    expect(() => ethtoolFeaturesSet('bad/name', all(false))).toThrow(NetlinkArgumentError);
  });
});

// Replies built the way the kernel builds them (net/ethtool/bitset.c): HW with a mask of every feature,
// WANTED, ACTIVE and NOCHANGE as lists (NOMASK).
interface Bit {
  index: number;
  name: string;
  value: boolean;
}

function verbose(w: MessageWriter, type: number, size: number, bits: Bit[], noMask: boolean): void {
  w.nest(type, () => {
    if (noMask) w.bytes(1, new Uint8Array(0));
    w.u32(2, size);
    w.nest(3, () => {
      for (const b of bits) {
        if (noMask && !b.value) continue;
        w.nest(1, () => {
          w.u32(1, b.index);
          w.str(2, b.name);
          if (b.value && !noMask) w.bytes(3, new Uint8Array(0));
        });
      }
    });
  });
}

function words(size: number, indices: number[]): Buffer {
  const b = Buffer.alloc(4 * Math.ceil(size / 32));
  for (const i of indices) b.writeUInt32LE((b.readUInt32LE(4 * (i >>> 5)) | (1 << (i & 31))) >>> 0, 4 * (i >>> 5));
  return b;
}

function compact(w: MessageWriter, type: number, size: number, value: number[], mask: number[] | undefined): void {
  w.nest(type, () => {
    if (!mask) w.bytes(1, new Uint8Array(0));
    w.u32(2, size);
    w.bytes(4, words(size, value));
    if (mask) w.bytes(5, words(size, mask));
  });
}

// A vxlan device's slice of the feature space: index → name, and which bits are set where.
const NAMES = ['tx-scatter-gather', 'tx-checksum-ipv4', 'tx-checksum-ip-generic', 'tx-checksum-ipv6', 'highdma', 'tx-checksum-sctp', 'netns-local'];
const HW = [0, 2, 4];
const WANTED = [0, 2, 4];
const ACTIVE = [0, 2, 4, 6];
const NOCHANGE = [6];

function reply(form: 'verbose' | 'compact', active = ACTIVE): Buffer {
  const w = new MessageWriter();
  writeGenlHeader(w, ETHTOOL_MSG_FEATURES_GET, 1);
  w.nest(ETHTOOL_A_FEATURES_HEADER, () => {
    w.u32(ETHTOOL_A_HEADER_DEV_INDEX, 7);
    w.str(ETHTOOL_A_HEADER_DEV_NAME, 'flannel.1');
  });
  const size = NAMES.length;
  const bits = (set: number[]) => NAMES.map((name, index) => ({ index, name, value: set.includes(index) }));
  if (form === 'verbose') {
    verbose(w, ETHTOOL_A_FEATURES_HW, size, bits(HW), false);
    verbose(w, ETHTOOL_A_FEATURES_WANTED, size, bits(WANTED), true);
    verbose(w, ETHTOOL_A_FEATURES_ACTIVE, size, bits(active), true);
    verbose(w, ETHTOOL_A_FEATURES_NOCHANGE, size, bits(NOCHANGE), true);
  } else {
    compact(w, ETHTOOL_A_FEATURES_HW, size, HW, [...NAMES.keys()]);
    compact(w, ETHTOOL_A_FEATURES_WANTED, size, WANTED, undefined);
    compact(w, ETHTOOL_A_FEATURES_ACTIVE, size, active, undefined);
    compact(w, ETHTOOL_A_FEATURES_NOCHANGE, size, NOCHANGE, undefined);
  }
  return w.toBuffer();
}

const feature = (f: { features: EthtoolFeature[] }, name: string) => f.features.find((x) => x.name === name);

describe('decoding FEATURES_GET_REPLY', () => {
  it('reads a verbose reply: every feature named, with active, wanted and [fixed]', () => {
    const f = decodeEthtoolFeatures(reply('verbose'));
    expect(f.device).toBe('flannel.1');
    expect(f.ifindex).toBe(7);
    expect(f.features.map((x) => x.name)).toEqual(NAMES);
    expect(feature(f, 'tx-checksum-ip-generic')).toEqual({ name: 'tx-checksum-ip-generic', index: 2, active: true, wanted: true, changeable: true });
    expect(feature(f, 'tx-checksum-ipv4')).toEqual({ name: 'tx-checksum-ipv4', index: 1, active: false, wanted: false, changeable: false });
    // Active but not changeable: netns-local is NETIF_F_NEVER_CHANGE.
    expect(feature(f, 'netns-local')).toMatchObject({ active: true, changeable: false });
  });

  it('reads a compact reply to the same features, given the names (else #INDEX)', () => {
    expect(decodeEthtoolFeatures(reply('compact'), NAMES)).toEqual(decodeEthtoolFeatures(reply('verbose')));
    expect(decodeEthtoolFeatures(reply('compact')).features.map((x) => x.name)).toEqual(NAMES.map((_, i) => `#${i}`));
  });

  it('says which attribute a truncated reply lacks', () => {
    const w = new MessageWriter();
    writeGenlHeader(w, ETHTOOL_MSG_FEATURES_GET, 1);
    expect(() => decodeEthtoolFeatures(w.toBuffer())).toThrow('ethtool features reply without attribute 3');
  });
});

describe('bitsets', () => {
  it('compact with a mask lists the masked bits with their values; words are little-endian, low word first', () => {
    const w = new MessageWriter();
    compact(w, 9, 40, [1, 33], [1, 2, 33]);
    const set = decodeBitset(w.toBuffer().subarray(4));
    expect(set).toEqual({
      size: 40,
      noMask: false,
      bits: [
        { index: 1, value: true },
        { index: 2, value: false },
        { index: 33, value: true },
      ],
    });
  });

  it('compact without a mask lists the set bits; bits past SIZE are ignored', () => {
    const w = new MessageWriter();
    compact(w, 9, 33, [0, 32, 40], undefined);
    expect(decodeBitset(w.toBuffer().subarray(4)).bits.map((b) => b.index)).toEqual([0, 32]);
  });

  it('verbose with a mask gives each listed bit its VALUE flag; without one, listed means set', () => {
    const bits = [
      { index: 3, name: 'c', value: false },
      { index: 1, name: 'a', value: true },
    ];
    const masked = new MessageWriter();
    verbose(masked, 9, 4, bits, false);
    expect(decodeBitset(masked.toBuffer().subarray(4)).bits).toEqual([
      { index: 1, name: 'a', value: true },
      { index: 3, name: 'c', value: false },
    ]);
    const list = new MessageWriter();
    verbose(list, 9, 4, bits, true);
    expect(decodeBitset(list.toBuffer().subarray(4))).toEqual({ size: 4, noMask: true, bits: [{ index: 1, name: 'a', value: true }] });
  });
});

describe('`tx on|off` over features', () => {
  it('asks for every tx-checksum-* feature the kernel knows, fixed or not, as ethtool does', () => {
    expect(txChecksumWanted(decodeEthtoolFeatures(reply('verbose')), false)).toEqual({
      'tx-checksum-ipv4': false,
      'tx-checksum-ip-generic': false,
      'tx-checksum-ipv6': false,
      'tx-checksum-sctp': false,
    });
  });

  it('off holds when no tx-checksum-* feature is active, and names the ones that stayed', () => {
    expect(txChecksumProblem(decodeEthtoolFeatures(reply('verbose', [0, 4])), false)).toBeUndefined();
    expect(txChecksumProblem(decodeEthtoolFeatures(reply('verbose', [0, 2, 3])), false)).toBe(
      'tx-checksum-ip-generic, tx-checksum-ipv6 ([fixed]: the device does not let it change) stayed on',
    );
  });

  it('on holds when one tx-checksum-* feature is active (a device offers one kind)', () => {
    expect(txChecksumProblem(decodeEthtoolFeatures(reply('verbose')), true)).toBeUndefined();
    expect(txChecksumProblem(decodeEthtoolFeatures(reply('verbose', [0])), true)).toBe('no tx-checksum-* feature came on');
  });
});

describe('falling back to the ioctl', () => {
  it('happens when the kernel has no ethtool family (ENOENT) or no features commands (EOPNOTSUPP), not otherwise', () => {
    expect(lacksEthtoolFeaturesNetlink(new NetlinkError('genl ctrl get name ethtool', 2))).toBe(true);
    expect(lacksEthtoolFeaturesNetlink(new NetlinkError('ethtool -k flannel.1', 95))).toBe(true);
    expect(lacksEthtoolFeaturesNetlink(new NetlinkError('ethtool -k flannel.1', 19))).toBe(false); // ENODEV
    expect(lacksEthtoolFeaturesNetlink(new Error('ENOENT'))).toBe(false);
  });
});
