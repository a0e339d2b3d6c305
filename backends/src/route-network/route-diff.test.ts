import { FLANNEL_ROUTE_PROTOCOL, IP, IPNet } from '@flannel-ts/core';
import { routeReconcileOps, type PeerRoute } from './route-diff.js';

const peer: PeerRoute = { dst: IPNet.parse('10.244.2.0/24'), gw: IP.parse('192.0.2.12'), linkIndex: 2, onlink: false };
const kernel = (over: object = {}) => ({ dst: peer.dst, gw: peer.gw, linkIndex: 2, onlink: false, protocol: FLANNEL_ROUTE_PROTOCOL, ...over });

describe('routeReconcileOps', () => {
  it('does nothing when the kernel matches', () => {
    expect(routeReconcileOps([peer], [kernel()])).toEqual([]);
  });

  it('adds a missing route and replaces one with another gateway, device or onlink flag', () => {
    expect(routeReconcileOps([peer], []).map((r) => r.op)).toEqual(['ip route replace 10.244.2.0/24 via 192.0.2.12 dev #2']);
    for (const over of [{ gw: IP.parse('192.0.2.99') }, { linkIndex: 3 }, { onlink: true }]) {
      expect(routeReconcileOps([peer], [kernel(over)]).map((r) => r.op)).toEqual(['ip route replace 10.244.2.0/24 via 192.0.2.12 dev #2']);
    }
  });

  it('deletes a route of ours that no lease wants', () => {
    expect(routeReconcileOps([], [kernel()]).map((r) => r.op)).toEqual(['ip route del 10.244.2.0/24 via 192.0.2.12 dev #2']);
  });
});
