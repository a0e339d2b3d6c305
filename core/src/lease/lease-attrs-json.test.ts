import { IP } from '../ip/ip.js';
import { decodeLeaseAttrs, encodeLeaseAttrs, LeaseAttrsError } from './lease-attrs-json.js';

describe('LeaseAttrs JSON, as Go flannel stores it', () => {
  it('writes PublicIP and PublicIPv6 always, the rest only when set', () => {
    expect(encodeLeaseAttrs({ publicIP: IP.parse('1.2.3.4') })).toBe('{"PublicIP":"1.2.3.4","PublicIPv6":null}');
  });

  it('reads and writes the documented vxlan value byte for byte', () => {
    const stored = '{"PublicIP":"192.168.64.3","PublicIPv6":null,"BackendType":"vxlan","BackendData":{"VNI":1,"VtepMAC":"c6:d2:32:6f:8f:44"}}';
    const attrs = decodeLeaseAttrs(stored);
    expect(String(attrs.publicIP)).toBe('192.168.64.3');
    expect(attrs.backendType).toBe('vxlan');
    expect(attrs.backendData).toEqual({ VNI: 1, VtepMAC: 'c6:d2:32:6f:8f:44' });
    expect(encodeLeaseAttrs(attrs)).toBe(stored);
  });

  it('round-trips a dual-stack value', () => {
    const attrs = {
      publicIP: IP.parse('192.0.2.1'),
      publicIPv6: IP.parse('2001:db8::1'),
      backendType: 'vxlan',
      backendData: { VNI: 1, VtepMAC: 'aa:aa:aa:aa:aa:aa' },
      backendV6Data: { VNI: 1, VtepMAC: 'bb:bb:bb:bb:bb:bb' },
    };
    expect(decodeLeaseAttrs(encodeLeaseAttrs(attrs))).toEqual(attrs);
  });

  it('reads an old (v0.11) value with lower-case keys and no PublicIPv6', () => {
    const attrs = decodeLeaseAttrs('{"publicip":"10.0.0.5","backendtype":"host-gw"}');
    expect(String(attrs.publicIP)).toBe('10.0.0.5');
    expect(attrs.backendType).toBe('host-gw');
    expect(attrs.publicIPv6).toBeUndefined();
  });

  it.each([
    ['not json', /not valid JSON/],
    ['[1]', /must be a JSON object/],
    ['{"PublicIP":42}', /PublicIP must be a string/],
    ['{"PublicIP":"fd00::1"}', /PublicIP "fd00::1" is not an IPv4 address/],
    ['{"PublicIP":"1.2.3.4","PublicIPv6":"1.2.3.4"}', /PublicIPv6 "1.2.3.4" is not an IPv6 address/],
    ['{"PublicIP":"1.2.3.4","BackendType":["vxlan"]}', /BackendType must be a string/],
  ])('rejects %s with a reason', (text, reason) => {
    expect(() => decodeLeaseAttrs(text)).toThrow(LeaseAttrsError);
    expect(() => decodeLeaseAttrs(text)).toThrow(reason);
  });
});
