// Generic netlink: one NETLINK_GENERIC socket carries many families (wireguard, ethtool, nl80211...), each
// known by a name and given a message type (its id) by the kernel when it registers. The controller family
// (GENL_ID_CTRL) answers CTRL_CMD_GETFAMILY with a family's id, version and multicast groups. Every genl
// message body starts with a 4-byte header: the command, the family's version, and two reserved bytes.
import { attrStr, attrU32, parseAttrs, type MessageWriter } from './nl/attrs.js';
import {
  CTRL_ATTR_FAMILY_ID,
  CTRL_ATTR_FAMILY_NAME,
  CTRL_ATTR_HDRSIZE,
  CTRL_ATTR_MAXATTR,
  CTRL_ATTR_MCAST_GROUPS,
  CTRL_ATTR_MCAST_GRP_ID,
  CTRL_ATTR_MCAST_GRP_NAME,
  CTRL_ATTR_VERSION,
  CTRL_CMD_GETFAMILY,
  GENL_HDRLEN,
  GENL_ID_CTRL,
} from './nl/constants.js';
import { NetlinkArgumentError } from './errors.js';
import type { NetlinkRequest } from './socket/netlink-socket.js';

/** A generic netlink family as the kernel registered it (`genl ctrl get name NAME`). */
export interface GenlFamily {
  name: string;
  /** The netlink message type its requests carry. */
  id: number;
  version: number;
  /** Bytes of family-specific header after the genl header (0 for wireguard). */
  hdrSize: number;
  maxAttr: number;
  /** Multicast groups by name. */
  mcastGroups: Record<string, number>;
}

/** The controller's own version, as iproute2's `genl` sends it. */
const CTRL_VERSION = 1;
const NAME_MAX = 15; // GENL_NAMSIZ - 1

/** struct genlmsghdr: cmd, version, 2 reserved bytes. */
export function writeGenlHeader(w: MessageWriter, cmd: number, version: number): void {
  const off = w.reserve(GENL_HDRLEN);
  const b = w.view();
  b.writeUInt8(cmd, off);
  b.writeUInt8(version, off + 1);
}

/** `genl ctrl get name NAME`: the controller's answer is one CTRL_CMD_NEWFAMILY message (decodeGenlFamily). */
export function genlGetFamily(name: string): NetlinkRequest {
  if (name.length === 0 || Buffer.byteLength(name) > NAME_MAX || /[^\x21-\x7e]/.test(name)) {
    throw new NetlinkArgumentError(`invalid generic netlink family name ${JSON.stringify(name)}: 1 to ${NAME_MAX} printable characters`);
  }
  return {
    op: `genl ctrl get name ${name}`,
    type: GENL_ID_CTRL,
    flags: 0,
    body: (w) => {
      writeGenlHeader(w, CTRL_CMD_GETFAMILY, CTRL_VERSION);
      w.str(CTRL_ATTR_FAMILY_NAME, name);
    },
  };
}

/** A CTRL_CMD_NEWFAMILY payload (genl header, then attributes). */
export function decodeGenlFamily(payload: Buffer): GenlFamily {
  const a = parseAttrs(payload, GENL_HDRLEN);
  const id = a.get(CTRL_ATTR_FAMILY_ID);
  if (!id || id.length < 2) throw new Error('generic netlink controller reply without a family id');
  const mcastGroups: Record<string, number> = {};
  const groups = a.get(CTRL_ATTR_MCAST_GROUPS);
  if (groups) {
    for (const [, g] of attrList(groups)) {
      const ga = parseAttrs(g);
      const name = attrStr(ga.get(CTRL_ATTR_MCAST_GRP_NAME));
      const gid = attrU32(ga.get(CTRL_ATTR_MCAST_GRP_ID));
      if (name !== undefined && gid !== undefined) mcastGroups[name] = gid;
    }
  }
  return {
    name: attrStr(a.get(CTRL_ATTR_FAMILY_NAME)) ?? '',
    id: id.readUInt16LE(0),
    version: attrU32(a.get(CTRL_ATTR_VERSION)) ?? 0,
    hdrSize: attrU32(a.get(CTRL_ATTR_HDRSIZE)) ?? 0,
    maxAttr: attrU32(a.get(CTRL_ATTR_MAXATTR)) ?? 0,
    mcastGroups,
  };
}

/** A genl request bound to its family's id, ready for a NETLINK_GENERIC socket. */
export function resolveGenlRequest(r: NetlinkRequest, family: GenlFamily): NetlinkRequest {
  const resolved: NetlinkRequest = {
    type: family.id,
    flags: r.flags,
    body: (w) => r.body(w),
    get op() {
      return r.op;
    },
  };
  return resolved;
}

const NLA_TYPE_MASK = 0x3fff;

/** Every attribute of one level in order, repeated types included (arrays of nests: peers, allowed IPs). */
export function attrList(buf: Buffer, start = 0, end = buf.length): [number, Buffer][] {
  const out: [number, Buffer][] = [];
  let off = start;
  while (off + 4 <= end) {
    const len = buf.readUInt16LE(off);
    if (len < 4 || off + len > end) break;
    out.push([buf.readUInt16LE(off + 2) & NLA_TYPE_MASK, buf.subarray(off + 4, off + len)]);
    off += (len + 3) & ~3;
  }
  return out;
}
