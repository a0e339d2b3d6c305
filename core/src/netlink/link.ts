import { IP } from '../ip/ip.js';
import { MAC } from '../ip/mac.js';
import { NetlinkArgumentError } from './errors.js';
import { attrBe16, attrStr, attrU32, attrU8, parseAttrs, type MessageWriter } from './nl/attrs.js';
import {
  AF_UNSPEC,
  IFF_LOWER_UP,
  IFF_UP,
  IFLA_ADDRESS,
  IFLA_IFNAME,
  IFLA_INFO_DATA,
  IFLA_INFO_KIND,
  IFLA_LINK,
  IFLA_LINKINFO,
  IFLA_MASTER,
  IFLA_MTU,
  IFLA_NET_NS_FD,
  IFLA_OPERSTATE,
  IFLA_VXLAN_GBP,
  IFLA_VXLAN_GROUP,
  IFLA_VXLAN_GROUP6,
  IFLA_VXLAN_ID,
  IFLA_VXLAN_L2MISS,
  IFLA_VXLAN_L3MISS,
  IFLA_VXLAN_LEARNING,
  IFLA_VXLAN_LINK,
  IFLA_VXLAN_LOCAL,
  IFLA_VXLAN_LOCAL6,
  IFLA_VXLAN_PORT,
  IFNAMSIZ,
  VETH_INFO_PEER,
  IFLA_IPTUN_LINK,
  IFLA_IPTUN_LOCAL,
  IFLA_IPTUN_REMOTE,
  IFLA_GENEVE_COLLECT_METADATA,
  IFLA_GENEVE_ID,
  IFLA_GENEVE_INNER_PROTO_INHERIT,
  IFLA_GENEVE_PORT,
  IFLA_GENEVE_REMOTE,
  IFLA_GENEVE_REMOTE6,
} from './nl/constants.js';

/** The vxlan attributes that decide whether an existing device can be reused, as Go flannel decides it. */
export interface VxlanInfo {
  vni: number;
  /** IFLA_VXLAN_LINK: the underlay device index (`dev eth0`). */
  vtepIndex?: number | undefined;
  local?: IP | undefined;
  group?: IP | undefined;
  /** UDP destination port; 0 or absent means the kernel default, 8472. */
  port?: number | undefined;
  learning: boolean;
  gbp: boolean;
  l2miss: boolean;
  l3miss: boolean;
}

export interface Link {
  index: number;
  name: string;
  mtu: number;
  flags: number;
  up: boolean;
  lowerUp: boolean;
  mac?: MAC | undefined;
  masterIndex?: number | undefined;
  /** IFLA_LINK: the parent device (a veth's peer, a vlan's parent). */
  parentIndex?: number | undefined;
  operState?: number | undefined;
  /** IFLA_INFO_KIND: "vxlan", "bridge", "veth", "tun", "wireguard"...; absent for plain devices such as lo. */
  kind?: string | undefined;
  vxlan?: VxlanInfo | undefined;
  ipip?: IpipInfo | undefined;
  geneve?: GeneveInfo | undefined;
}

/**
 * A geneve device: `ip link add NAME type geneve id VNI remote IP [dstport PORT]` (one peer), or
 * `... type geneve external [dstport PORT]` (collect_md: the remote and VNI of each packet come from
 * its route's `encap ip id VNI dst IP`, and any VNI is received). `innerProtoInherit` makes it an L3
 * device (`innerprotoinherit`; Linux 5.15 has it): IP packets without an inner Ethernet header, no ARP.
 */
export interface GeneveInfo {
  /** 0 for an external device. */
  vni: number;
  remote?: IP | undefined;
  /** UDP destination (and listening) port; absent: the kernel's 6081. */
  port?: number | undefined;
  /** `external` (IFLA_GENEVE_COLLECT_METADATA). */
  external: boolean;
  innerProtoInherit: boolean;
}

/** `ip link add NAME type geneve …`: a VNI and remote, or `external: true` with neither. */
export type GeneveSpec = Partial<Pick<GeneveInfo, 'vni' | 'remote' | 'port' | 'external' | 'innerProtoInherit'>>;

/** An ipip tunnel's endpoints: `ip link add NAME type ipip local IP [remote IP] [dev IDX]`. Absent remote = any. */
export interface IpipInfo {
  local?: IP | undefined;
  remote?: IP | undefined;
  /** IFLA_IPTUN_LINK: the underlay device, if bound to one. */
  linkIndex?: number | undefined;
}

interface LinkBase {
  name: string;
  mtu?: number | undefined;
  mac?: MAC | undefined;
}

/** `ip link add NAME type vxlan id VNI [local IP] [dev IDX] [dstport PORT] [no]learning [gbp]` */
export type VxlanSpec = Pick<VxlanInfo, 'vni' | 'vtepIndex' | 'local' | 'group' | 'port'> & { learning?: boolean; gbp?: boolean };

/** What `linkAdd` creates. */
export type LinkSpec =
  | (LinkBase & { kind: 'vxlan'; vxlan: VxlanSpec })
  | (LinkBase & { kind: 'bridge' })
  | (LinkBase & { kind: 'ipip'; ipip: IpipInfo })
  | (LinkBase & { kind: 'geneve'; geneve: GeneveSpec })
  /** `ip link add NAME type wireguard`: keys, port and peers are set over generic netlink (`wgSetDevice`). */
  | (LinkBase & { kind: 'wireguard' })
  | (LinkBase & { kind: 'veth'; peer: { name: string; mac?: MAC; /** fd of the peer's network namespace */ netnsFd?: number } });

export function checkLinkName(name: string): void {
  if (name.length === 0 || Buffer.byteLength(name) >= IFNAMSIZ || /[\s/:]/.test(name) || name === '.' || name === '..') {
    throw new NetlinkArgumentError(`invalid device name ${JSON.stringify(name)}: at most ${IFNAMSIZ - 1} bytes, no spaces, '/' or ':'`);
  }
}

/** struct ifinfomsg */
export function writeIfinfomsg(w: MessageWriter, index = 0, flags = 0, change = 0): void {
  const off = w.reserve(16);
  const b = w.view();
  b.writeUInt8(AF_UNSPEC, off);
  b.writeInt32LE(index, off + 4);
  b.writeUInt32LE(flags >>> 0, off + 8);
  b.writeUInt32LE(change >>> 0, off + 12);
}

export function encodeLinkAdd(w: MessageWriter, spec: LinkSpec): void {
  checkLinkName(spec.name);
  writeIfinfomsg(w);
  writeLinkBase(w, spec);
  w.nest(IFLA_LINKINFO, () => {
    w.str(IFLA_INFO_KIND, spec.kind);
    if (spec.kind === 'vxlan') w.nest(IFLA_INFO_DATA, () => writeVxlan(w, spec.vxlan));
    if (spec.kind === 'ipip') w.nest(IFLA_INFO_DATA, () => writeIpip(w, spec.ipip));
    if (spec.kind === 'geneve') w.nest(IFLA_INFO_DATA, () => writeGeneve(w, spec.geneve));
    if (spec.kind === 'veth') {
      checkLinkName(spec.peer.name);
      const peer = spec.peer;
      w.nest(IFLA_INFO_DATA, () =>
        w.nest(VETH_INFO_PEER, () => {
          writeIfinfomsg(w);
          w.str(IFLA_IFNAME, peer.name);
          if (peer.mac) w.bytes(IFLA_ADDRESS, peer.mac.bytes);
          if (peer.netnsFd !== undefined) w.u32(IFLA_NET_NS_FD, peer.netnsFd);
        }),
      );
    }
  });
}

function writeLinkBase(w: MessageWriter, spec: LinkBase): void {
  w.str(IFLA_IFNAME, spec.name);
  if (spec.mtu !== undefined) w.u32(IFLA_MTU, spec.mtu);
  if (spec.mac) w.bytes(IFLA_ADDRESS, spec.mac.bytes);
}

function writeVxlan(w: MessageWriter, v: VxlanSpec): void {
  if (!Number.isInteger(v.vni) || v.vni < 0 || v.vni > 0xffffff) throw new NetlinkArgumentError(`invalid VNI ${v.vni}: 0..16777215`);
  w.u32(IFLA_VXLAN_ID, v.vni);
  if (v.vtepIndex) w.u32(IFLA_VXLAN_LINK, v.vtepIndex);
  if (v.local) w.bytes(v.local.family === 4 ? IFLA_VXLAN_LOCAL : IFLA_VXLAN_LOCAL6, v.local.toBytes());
  if (v.group) w.bytes(v.group.family === 4 ? IFLA_VXLAN_GROUP : IFLA_VXLAN_GROUP6, v.group.toBytes());
  if (v.port) w.be16(IFLA_VXLAN_PORT, v.port);
  w.u8(IFLA_VXLAN_LEARNING, v.learning ? 1 : 0);
  if (v.gbp) w.bytes(IFLA_VXLAN_GBP, new Uint8Array(0));
}

function writeIpip(w: MessageWriter, t: IpipInfo): void {
  if (t.local) w.bytes(IFLA_IPTUN_LOCAL, t.local.toBytes());
  if (t.remote) w.bytes(IFLA_IPTUN_REMOTE, t.remote.toBytes());
  if (t.linkIndex) w.u32(IFLA_IPTUN_LINK, t.linkIndex);
}

function writeGeneve(w: MessageWriter, g: GeneveSpec): void {
  const vni = g.vni ?? 0;
  if (!Number.isInteger(vni) || vni < 0 || vni > 0xffffff) throw new NetlinkArgumentError(`invalid geneve VNI ${vni}: 0..16777215`);
  if (g.external && (vni !== 0 || g.remote)) throw new NetlinkArgumentError('an external geneve device takes no VNI and no remote: its routes carry them');
  if (!g.external && !g.remote) throw new NetlinkArgumentError('a geneve device needs a remote address, or external');
  if (g.port !== undefined && (!Number.isInteger(g.port) || g.port < 1 || g.port > 65535))
    throw new NetlinkArgumentError(`invalid geneve port ${g.port}: 1..65535`);
  // The kernel refuses IFLA_GENEVE_ID beside COLLECT_METADATA only when it is not 0; iproute2 sends none.
  if (!g.external) w.u32(IFLA_GENEVE_ID, vni);
  if (g.remote) w.bytes(g.remote.family === 4 ? IFLA_GENEVE_REMOTE : IFLA_GENEVE_REMOTE6, g.remote.toBytes());
  if (g.port !== undefined) w.be16(IFLA_GENEVE_PORT, g.port);
  if (g.external) w.bytes(IFLA_GENEVE_COLLECT_METADATA, new Uint8Array(0));
  if (g.innerProtoInherit) w.bytes(IFLA_GENEVE_INNER_PROTO_INHERIT, new Uint8Array(0));
}

/** Changes to an existing link, as `ip link set`. */
export interface LinkChange {
  up?: boolean | undefined;
  mtu?: number | undefined;
  mac?: MAC | undefined;
  /** 0 detaches (`nomaster`). */
  masterIndex?: number | undefined;
  name?: string | undefined;
}

export function encodeLinkSet(w: MessageWriter, index: number, ch: LinkChange): void {
  if (ch.name !== undefined) checkLinkName(ch.name);
  writeIfinfomsg(w, index, ch.up ? IFF_UP : 0, ch.up === undefined ? 0 : IFF_UP);
  if (ch.name !== undefined) w.str(IFLA_IFNAME, ch.name);
  if (ch.mtu !== undefined) w.u32(IFLA_MTU, ch.mtu);
  if (ch.mac) w.bytes(IFLA_ADDRESS, ch.mac.bytes);
  if (ch.masterIndex !== undefined) w.u32(IFLA_MASTER, ch.masterIndex);
}

export function decodeLink(payload: Buffer): Link {
  const index = payload.readInt32LE(4);
  const flags = payload.readUInt32LE(8);
  const a = parseAttrs(payload, 16);
  const mac = a.get(IFLA_ADDRESS);
  const link: Link = {
    index,
    name: attrStr(a.get(IFLA_IFNAME)) ?? '',
    mtu: attrU32(a.get(IFLA_MTU)) ?? 0,
    flags,
    up: (flags & IFF_UP) !== 0,
    lowerUp: (flags & IFF_LOWER_UP) !== 0,
    mac: mac?.length === 6 ? MAC.fromBytes(mac) : undefined,
    masterIndex: attrU32(a.get(IFLA_MASTER)) || undefined,
    parentIndex: attrU32(a.get(IFLA_LINK)),
    operState: attrU8(a.get(IFLA_OPERSTATE)),
  };
  const info = a.get(IFLA_LINKINFO);
  if (info) {
    const i = parseAttrs(info);
    link.kind = attrStr(i.get(IFLA_INFO_KIND));
    const data = i.get(IFLA_INFO_DATA);
    if (link.kind === 'vxlan' && data) link.vxlan = decodeVxlan(data);
    if (link.kind === 'ipip' && data) link.ipip = decodeIpip(data);
    if (link.kind === 'geneve' && data) link.geneve = decodeGeneve(data);
  }
  return link;
}

function decodeGeneve(data: Buffer): GeneveInfo {
  const a = parseAttrs(data);
  const raw = a.get(IFLA_GENEVE_REMOTE) ?? a.get(IFLA_GENEVE_REMOTE6);
  const remote = raw && (raw.length === 4 || raw.length === 16) ? IP.fromBytes(raw) : undefined;
  const info: GeneveInfo = {
    vni: attrU32(a.get(IFLA_GENEVE_ID)) ?? 0,
    external: a.has(IFLA_GENEVE_COLLECT_METADATA),
    innerProtoInherit: a.has(IFLA_GENEVE_INNER_PROTO_INHERIT),
  };
  if (remote && !remote.isUnspecified()) info.remote = remote;
  const port = attrBe16(a.get(IFLA_GENEVE_PORT));
  if (port) info.port = port;
  return info;
}

function decodeIpip(data: Buffer): IpipInfo {
  const a = parseAttrs(data);
  const ip = (t: number) => {
    const b = a.get(t);
    const addr = b?.length === 4 ? IP.fromBytes(b) : undefined;
    return addr && !addr.isUnspecified() ? addr : undefined;
  };
  const info: IpipInfo = {};
  const local = ip(IFLA_IPTUN_LOCAL);
  const remote = ip(IFLA_IPTUN_REMOTE);
  const linkIndex = attrU32(a.get(IFLA_IPTUN_LINK));
  if (local) info.local = local;
  if (remote) info.remote = remote;
  if (linkIndex) info.linkIndex = linkIndex;
  return info;
}

function decodeVxlan(data: Buffer): VxlanInfo {
  const a = parseAttrs(data);
  const ip = (t4: number, t6: number) => {
    const b = a.get(t4) ?? a.get(t6);
    if (!b || (b.length !== 4 && b.length !== 16)) return undefined;
    const addr = IP.fromBytes(b);
    return addr.isUnspecified() ? undefined : addr;
  };
  return {
    vni: attrU32(a.get(IFLA_VXLAN_ID)) ?? 0,
    vtepIndex: attrU32(a.get(IFLA_VXLAN_LINK)) || undefined,
    local: ip(IFLA_VXLAN_LOCAL, IFLA_VXLAN_LOCAL6),
    group: ip(IFLA_VXLAN_GROUP, IFLA_VXLAN_GROUP6),
    port: attrBe16(a.get(IFLA_VXLAN_PORT)),
    learning: attrU8(a.get(IFLA_VXLAN_LEARNING)) === 1,
    gbp: a.has(IFLA_VXLAN_GBP),
    l2miss: attrU8(a.get(IFLA_VXLAN_L2MISS)) === 1,
    l3miss: attrU8(a.get(IFLA_VXLAN_L3MISS)) === 1,
  };
}
