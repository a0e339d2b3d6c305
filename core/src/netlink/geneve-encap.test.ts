// Geneve devices and routes with tunnel encapsulation, encoded as the kernel reads them and decoded as it
// writes them. This host's kernel has no geneve, so these check bytes and round trips; the e2e suite of
// the geneve example (test/e2e/geneve.test.ts, in the nested kernel) checks them against a real kernel
// and iproute2, and test/netlink/route-encap.test.ts checks route encapsulation against this kernel.
import { IP } from '../ip/ip.js';
import { IPNet } from '../ip/ipnet.js';
import { NetlinkArgumentError } from './errors.js';
import { decodeLink, encodeLinkAdd, type LinkSpec } from './link.js';
import { attrStr, attrU32, MessageWriter, parseAttrs, type Attrs } from './nl/attrs.js';
import {
  IFLA_GENEVE_COLLECT_METADATA,
  IFLA_GENEVE_ID,
  IFLA_GENEVE_INNER_PROTO_INHERIT,
  IFLA_GENEVE_PORT,
  IFLA_GENEVE_REMOTE,
  IFLA_GENEVE_REMOTE6,
  IFLA_INFO_DATA,
  IFLA_INFO_KIND,
  IFLA_LINKINFO,
  LWTUNNEL_ENCAP_IP,
  LWTUNNEL_ENCAP_IP6,
  RTA_ENCAP,
  RTA_ENCAP_TYPE,
  RTA_TABLE,
} from './nl/constants.js';
import * as requests from './requests.js';
import { decodeRoute, encodeRoute, type Route } from './route.js';

/** The IFLA_INFO_DATA attributes of an RTM_NEWLINK body (after the 16-byte ifinfomsg). */
function infoData(spec: LinkSpec): { kind: string | undefined; data: Attrs } {
  const w = new MessageWriter();
  encodeLinkAdd(w, spec);
  const info = parseAttrs(parseAttrs(w.toBuffer(), 16).get(IFLA_LINKINFO)!);
  return { kind: attrStr(info.get(IFLA_INFO_KIND)), data: parseAttrs(info.get(IFLA_INFO_DATA)!) };
}

const roundTrip = (spec: LinkSpec) => {
  const w = new MessageWriter();
  encodeLinkAdd(w, spec);
  return decodeLink(w.toBuffer());
};

describe('geneve devices', () => {
  it('encodes `type geneve external dstport 6082 innerprotoinherit` with flags and a big-endian port, and no VNI', () => {
    const { kind, data } = infoData({ kind: 'geneve', name: 'flannel.geneve', geneve: { external: true, innerProtoInherit: true, port: 6082 } });
    expect(kind).toBe('geneve');
    expect(data.types().sort((a, b) => a - b)).toEqual([IFLA_GENEVE_PORT, IFLA_GENEVE_COLLECT_METADATA, IFLA_GENEVE_INNER_PROTO_INHERIT]);
    expect([...data.get(IFLA_GENEVE_PORT)!]).toEqual([0x17, 0xc2]);
    expect(data.get(IFLA_GENEVE_COLLECT_METADATA)!.length).toBe(0);
    expect(data.get(IFLA_GENEVE_INNER_PROTO_INHERIT)!.length).toBe(0);
  });

  it('encodes `type geneve id 5 remote IP` for an IPv4 and an IPv6 remote', () => {
    const v4 = infoData({ kind: 'geneve', name: 'g0', geneve: { vni: 5, remote: IP.parse('192.0.2.1') } }).data;
    expect(attrU32(v4.get(IFLA_GENEVE_ID))).toBe(5);
    expect([...v4.get(IFLA_GENEVE_REMOTE)!]).toEqual([192, 0, 2, 1]);
    expect(v4.has(IFLA_GENEVE_COLLECT_METADATA)).toBe(false);
    const v6 = infoData({ kind: 'geneve', name: 'g0', geneve: { vni: 5, remote: IP.parse('2001:db8::1') } }).data;
    expect(v6.get(IFLA_GENEVE_REMOTE6)!.length).toBe(16);
    expect(v6.has(IFLA_GENEVE_REMOTE)).toBe(false);
  });

  it('decodes what it encodes into Link.geneve', () => {
    expect(roundTrip({ kind: 'geneve', name: 'flannel.geneve', geneve: { external: true, innerProtoInherit: true, port: 6081 } })).toMatchObject({
      name: 'flannel.geneve',
      kind: 'geneve',
      geneve: { vni: 0, external: true, innerProtoInherit: true, port: 6081 },
    });
    const p2p = roundTrip({ kind: 'geneve', name: 'g1', geneve: { vni: 0xffffff, remote: IP.parse('2001:db8::7') } });
    expect(p2p.geneve).toEqual({ vni: 0xffffff, remote: IP.parse('2001:db8::7'), external: false, innerProtoInherit: false });
  });

  it('refuses what the kernel would refuse, before sending it', () => {
    const bad: LinkSpec[] = [
      { kind: 'geneve', name: 'g', geneve: { external: true, vni: 1 } },
      { kind: 'geneve', name: 'g', geneve: { external: true, remote: IP.parse('192.0.2.1') } },
      { kind: 'geneve', name: 'g', geneve: { vni: 1 } },
      { kind: 'geneve', name: 'g', geneve: { vni: 1 << 24, remote: IP.parse('192.0.2.1') } },
      { kind: 'geneve', name: 'g', geneve: { external: true, port: 0 } },
    ];
    for (const spec of bad) expect(() => infoData(spec)).toThrow(NetlinkArgumentError);
  });
});

const encoded = (r: Route, forDelete = false) => {
  const w = new MessageWriter();
  encodeRoute(w, r, forDelete);
  return w.toBuffer();
};

describe('routes with tunnel encapsulation', () => {
  const route: Route = { dst: IPNet.parse('10.244.2.0/24'), linkIndex: 7, encap: { id: 1, dst: IP.parse('192.0.2.12') } };

  it('encodes `encap ip id 1 dst 192.0.2.12` as RTA_ENCAP_TYPE ip and a nested RTA_ENCAP with a __be64 id', () => {
    const attrs = parseAttrs(encoded(route), 12);
    expect(attrs.get(RTA_ENCAP_TYPE)!.readUInt16LE(0)).toBe(LWTUNNEL_ENCAP_IP);
    // LWTUNNEL_IP_ID (len 12, type 1, 8 bytes big-endian), then LWTUNNEL_IP_DST (len 8, type 2, 4 bytes)
    expect([...attrs.get(RTA_ENCAP)!]).toEqual([12, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 8, 0, 2, 0, 192, 0, 2, 12]);
  });

  it('uses ip6 encapsulation for an IPv6 underlay, whatever the route family', () => {
    const attrs = parseAttrs(encoded({ ...route, encap: { id: 0x123456, dst: IP.parse('2001:db8::12'), ttl: 64 } }), 12);
    expect(attrs.get(RTA_ENCAP_TYPE)!.readUInt16LE(0)).toBe(LWTUNNEL_ENCAP_IP6);
    const inner = parseAttrs(attrs.get(RTA_ENCAP)!);
    expect(inner.get(1)!.readBigUInt64BE(0)).toBe(0x123456n);
    expect(inner.get(2)!.length).toBe(16);
    expect(inner.get(4)![0]).toBe(64); // LWTUNNEL_IP6_HOPLIMIT
  });

  it('decodes what it encodes, with scope link for a route without a gateway', () => {
    const back = decodeRoute(encoded({ ...route, encap: { id: 9, dst: IP.parse('192.0.2.12'), src: IP.parse('192.0.2.11'), ttl: 9 } }))!;
    expect(back).toMatchObject({
      dst: IPNet.parse('10.244.2.0/24'),
      linkIndex: 7,
      scope: 253,
      encap: { id: 9, dst: IP.parse('192.0.2.12'), src: IP.parse('192.0.2.11'), ttl: 9 },
    });
    expect(decodeRoute(encoded({ dst: IPNet.parse('10.244.3.0/24'), linkIndex: 7 }))!.encap).toBeUndefined();
  });

  it('leaves the encapsulation out of a delete, and names it in the operation text', () => {
    const del = parseAttrs(encoded(route, true), 12);
    expect(del.has(RTA_ENCAP)).toBe(false);
    expect(del.has(RTA_TABLE)).toBe(true);
    expect(requests.routeReplace(route).op).toBe('ip route replace 10.244.2.0/24 dev #7 encap ip id 1 dst 192.0.2.12');
    expect(requests.routeDel(route).op).toBe('ip route del 10.244.2.0/24 dev #7');
  });

  it('refuses a negative or fractional id and a src of the other family', () => {
    expect(() => encoded({ ...route, encap: { id: -1, dst: IP.parse('192.0.2.12') } })).toThrow(NetlinkArgumentError);
    expect(() => encoded({ ...route, encap: { id: 1.5, dst: IP.parse('192.0.2.12') } })).toThrow(NetlinkArgumentError);
    expect(() => encoded({ ...route, encap: { id: 1, dst: IP.parse('192.0.2.12'), src: IP.parse('2001:db8::1') } })).toThrow(NetlinkArgumentError);
  });
});
