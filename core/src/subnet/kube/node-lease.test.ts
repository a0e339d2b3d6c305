import { IP } from '../../ip/ip.js';
import { kubeAnnotations } from './annotations.js';
import { annotationsToWrite, containsCIDR, networkAvailablePatch, nodeToLease, nodeView } from './node-lease.js';
import { IPNet } from '../../ip/ipnet.js';

const ann = kubeAnnotations();
const P = 'flannel.alpha.coreos.com/';
const vxlan = { backendType: 'vxlan', publicIP: IP.parse('192.0.2.11'), backendData: { VNI: 1, VtepMAC: '0a:58:0a:f4:01:01' } };

describe('annotationsToWrite (Go AcquireLease)', () => {
  it('writes what Go v0.2x writes for vxlan', () => {
    expect(annotationsToWrite({}, vxlan, ann)).toEqual({
      [`${P}backend-type`]: 'vxlan',
      [`${P}backend-data`]: '{"VNI":1,"VtepMAC":"0a:58:0a:f4:01:01"}',
      [`${P}public-ip`]: '192.0.2.11',
      [`${P}kube-subnet-manager`]: 'true',
    });
  });

  it('writes backend-data "null" for host-gw', () => {
    expect(annotationsToWrite({}, { backendType: 'host-gw', publicIP: IP.parse('192.0.2.12') }, ann)?.[`${P}backend-data`]).toBe('null');
  });

  it('writes nothing when the node already has our annotations', () => {
    const current = annotationsToWrite({}, vxlan, ann)!;
    expect(annotationsToWrite({ ...current, other: 'x' }, vxlan, ann)).toBeUndefined();
  });

  it('takes public-ip from public-ip-overwrite', () => {
    const current = { ...annotationsToWrite({}, vxlan, ann)!, [`${P}public-ip-overwrite`]: '198.51.100.7' };
    expect(annotationsToWrite(current, vxlan, ann)?.[`${P}public-ip`]).toBe('198.51.100.7');
    expect(annotationsToWrite({ ...current, [`${P}public-ip`]: '198.51.100.7' }, vxlan, ann)).toBeUndefined();
  });

  it('writes the IPv6 pair for dual-stack vxlan, and only it for IPv6-only vxlan', () => {
    const v6 = { VNI: 1, VtepMAC: '0a:58:0a:f4:01:02' };
    const dual = annotationsToWrite({}, { ...vxlan, publicIPv6: IP.parse('2001:db8::11'), backendV6Data: v6 }, ann)!;
    expect(dual[`${P}public-ipv6`]).toBe('2001:db8::11');
    expect(dual[`${P}backend-v6-data`]).toBe('{"VNI":1,"VtepMAC":"0a:58:0a:f4:01:02"}');
    const only6 = annotationsToWrite({}, { backendType: 'vxlan', publicIPv6: IP.parse('2001:db8::11'), backendV6Data: v6 }, ann)!;
    expect(only6[`${P}backend-data`]).toBeUndefined();
    expect(only6[`${P}public-ip`]).toBeUndefined();
  });
});

describe('nodeToLease', () => {
  const node = (annotations: Record<string, string>, podCIDRs = ['10.244.3.0/24']) =>
    nodeView({ metadata: { name: 'n', annotations }, spec: { podCIDRs } }, ann);
  const flannel = {
    [`${P}kube-subnet-manager`]: 'true',
    [`${P}backend-type`]: 'vxlan',
    [`${P}public-ip`]: '192.0.2.13',
    [`${P}backend-data`]: '{"VNI":1,"VtepMAC":"aa:bb:cc:dd:ee:ff"}',
  };

  it('reads a flannel node, v4', () => {
    const lease = nodeToLease(node(flannel), ann, { ipv4: true, ipv6: false })!;
    expect(String(lease.subnet)).toBe('10.244.3.0/24');
    expect(lease.attrs).toEqual({ backendType: 'vxlan', publicIP: IP.parse('192.0.2.13'), backendData: { VNI: 1, VtepMAC: 'aa:bb:cc:dd:ee:ff' } });
  });

  it('skips nodes that are not marked kube-subnet-manager=true', () => {
    expect(nodeToLease(node({ ...flannel, [`${P}kube-subnet-manager`]: 'false' }), ann, { ipv4: true, ipv6: false })).toBeUndefined();
  });

  it('refuses a bad public-ip, a missing family and three pod CIDRs', () => {
    expect(() => nodeToLease(node({ ...flannel, [`${P}public-ip`]: 'x' }), ann, { ipv4: true, ipv6: false })).toThrow(/public-ip/);
    expect(() => nodeToLease(node(flannel), ann, { ipv4: true, ipv6: true })).toThrow(/missing IPv6/);
    expect(() => nodeToLease(node(flannel, ['10.244.3.0/24', 'fd00::/64', '10.1.0.0/24']), ann, { ipv4: true, ipv6: false })).toThrow(/dualstack/);
  });

  it('keeps only our annotations and falls back to spec.podCIDR', () => {
    const v = nodeView(
      { metadata: { name: 'n', annotations: { ...flannel, 'kubeadm.alpha.kubernetes.io/cri-socket': 'x' } }, spec: { podCIDR: '10.244.9.0/24' } },
      ann,
    );
    expect(Object.keys(v.annotations).every((k) => k.startsWith(P))).toBe(true);
    expect(v.podCIDRs).toEqual(['10.244.9.0/24']);
  });
});

describe('NetworkUnavailable and containsCIDR', () => {
  it('is the condition Go writes', () => {
    expect(networkAvailablePatch(new Date('2026-01-02T03:04:05.678Z'))).toEqual({
      status: {
        conditions: [
          {
            type: 'NetworkUnavailable',
            status: 'False',
            reason: 'FlannelIsUp',
            message: 'Flannel is running on this node',
            lastTransitionTime: '2026-01-02T03:04:05Z',
            lastHeartbeatTime: '2026-01-02T03:04:05Z',
          },
        ],
      },
    });
  });

  it('contains only narrower nets inside', () => {
    expect(containsCIDR(IPNet.parse('10.244.0.0/16'), IPNet.parse('10.244.7.0/24'))).toBe(true);
    expect(containsCIDR(IPNet.parse('10.244.0.0/16'), IPNet.parse('10.245.7.0/24'))).toBe(false);
    expect(containsCIDR(IPNet.parse('10.244.0.0/16'), IPNet.parse('10.0.0.0/8'))).toBe(false);
  });
});
