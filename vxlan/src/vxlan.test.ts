import { FLANNEL_ROUTE_PROTOCOL, IP, IPNet, MAC } from '@flannel-ts/core';
import type { Link } from '@flannel-ts/core/netlink';
import { parseVxlanConfig } from './config.js';
import { reconcileOps } from './kernel-state.js';
import { readPeer, type VxlanPeer } from './peer.js';

describe('parseVxlanConfig', () => {
  it('applies the defaults of facts §6.1 and folds key case', () => {
    expect(parseVxlanConfig({ Type: 'vxlan' })).toEqual({ vni: 1, port: 0, gbp: false, learning: false, directRouting: false });
    expect(parseVxlanConfig({ type: 'vxlan', vni: 42, port: 4789, mtu: 9000, directrouting: true })).toMatchObject({ vni: 42, port: 4789, mtu: 9000, directRouting: true });
  });

  it('names the field and the fix for bad values', () => {
    expect(() => parseVxlanConfig({ VNI: 'one' })).toThrow('Backend.VNI: error decoding VXLAN backend config: "one" is not a whole number from 1 to 16777215; set VNI to a number in that range, or leave it out');
    expect(() => parseVxlanConfig({ DirectRouting: 'yes' })).toThrow(/Backend.DirectRouting: .* is not true or false/);
    expect(() => parseVxlanConfig({ Port: 70000 })).toThrow(/Backend.Port/);
  });
});

describe('readPeer', () => {
  const lease = (attrs: object) => ({ subnet: IPNet.parse('10.244.2.0/24'), attrs: { backendType: 'vxlan', publicIP: IP.parse('192.0.2.2'), ...attrs } });

  it('accepts new and old (VtepMAC-only) BackendData', () => {
    expect(readPeer(lease({ backendData: { VNI: 1, VtepMAC: 'c6:d2:32:6f:8f:44' } }), 4)).toMatchObject({ vtepMAC: MAC.parse('c6:d2:32:6f:8f:44') });
    expect(readPeer(lease({ backendData: { VtepMAC: 'c6:d2:32:6f:8f:44' } }), 4)).not.toHaveProperty('problem');
  });

  it('says what is wrong with malformed peer data', () => {
    expect(readPeer(lease({ backendData: { VtepMAC: 'zz' } }), 4)).toEqual({ problem: 'BackendData.VtepMAC "zz" is not a MAC address' });
    expect(readPeer(lease({ backendData: { VtepMAC: '01:00:5e:00:00:01' } }), 4)).toMatchObject({ problem: expect.stringMatching(/not a unicast/) });
    expect(readPeer(lease({ backendData: 'x' }), 4)).toEqual({ problem: 'BackendData is not an object' });
    expect(readPeer(lease({ backendType: 'host-gw', backendData: {} }), 4)).toMatchObject({ problem: expect.stringMatching(/not "vxlan"/) });
    expect(readPeer(lease({ publicIP: undefined, backendData: { VtepMAC: 'c6:d2:32:6f:8f:44' } }), 4)).toEqual({ problem: 'no IPv4 PublicIP' });
  });
});

describe('reconcileOps', () => {
  const dev = { dev: { index: 7, name: 'flannel.1' } as Link, nexthops: false };
  const peer: VxlanPeer = { subnet: IPNet.parse('10.244.2.0/24'), publicIP: IP.parse('192.0.2.2'), vtepMAC: MAC.parse('0a:00:00:00:00:02'), direct: false };
  const good = {
    neighs: [{ linkIndex: 7, ip: peer.subnet.ip, mac: peer.vtepMAC }],
    fdbs: [{ linkIndex: 7, mac: peer.vtepMAC, dst: peer.publicIP }],
    routes: [{ dst: peer.subnet, gw: peer.subnet.ip, linkIndex: 7, onlink: true, protocol: FLANNEL_ROUTE_PROTOCOL }],
    nexthops: [],
  };

  it('does nothing when the kernel matches', () => {
    expect(reconcileOps(dev, [peer], good)).toEqual([]);
  });

  it('re-adds a peer whose route is missing, in neigh, fdb, route order', () => {
    expect(reconcileOps(dev, [peer], { ...good, routes: [] }).map((r) => r.op)).toEqual([
      'ip neigh replace 10.244.2.0 lladdr 0a:00:00:00:00:02 dev #7',
      'bridge fdb replace 0a:00:00:00:00:02 dev #7 self dst 192.0.2.2',
      'ip route replace 10.244.2.0/24 via 10.244.2.0 dev #7 onlink',
    ]);
  });

  it('deletes stale entries we own and nothing else', () => {
    const ops = reconcileOps(dev, [], good).map((r) => r.op);
    expect(ops).toEqual(['ip neigh del 10.244.2.0 dev #7', 'bridge fdb del 0a:00:00:00:00:02 dev #7 self dst 192.0.2.2', 'ip route del 10.244.2.0/24 via 10.244.2.0 dev #7 onlink']);
  });

  it('routes through a nexthop object named after the subnet when the kernel has them', () => {
    const t = { ...dev, nexthops: true };
    expect(reconcileOps(t, [peer], { ...good, routes: [] }).map((r) => r.op).slice(2)).toEqual([
      `ip nexthop replace id ${0x0af40200} via 10.244.2.0 dev #7 onlink`,
      `ip route replace 10.244.2.0/24 nhid ${0x0af40200}`,
    ]);
    const nh = { id: 0x0af40200, gw: peer.subnet.ip, linkIndex: 7, onlink: true, protocol: FLANNEL_ROUTE_PROTOCOL };
    const nhRoute = { ...good.routes[0]!, nhid: 0x0af40200 };
    expect(reconcileOps(t, [peer], { ...good, routes: [nhRoute], nexthops: [nh] })).toEqual([]);
    expect(reconcileOps(t, [], { ...good, routes: [nhRoute], nexthops: [nh] }).map((r) => r.op)).toContain(`ip nexthop del id ${0x0af40200}`);
  });

  it('gives a direct peer only a route via its public IP', () => {
    const direct = { ...peer, direct: true };
    expect(reconcileOps(dev, [direct], { neighs: [], fdbs: [], routes: [], nexthops: [] }).map((r) => r.op)).toEqual(['ip route replace 10.244.2.0/24 via 192.0.2.2']);
  });
});
