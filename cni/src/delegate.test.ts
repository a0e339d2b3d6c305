import { IPNet } from '@flannel-ts/core/ip';
import { renderDelegate, stableJson } from './delegate.js';
import { parseNetConf } from './netconf.js';

const env = { networks: [IPNet.parse('10.1.0.0/16')], ipv6Networks: [], subnet: IPNet.parse('10.1.17.0/24'), mtu: 1472, ipMasq: true };

describe('renderDelegate', () => {
  it('renders Go flannel\'s unit-test delegate', () => {
    const conf = parseNetConf('{"cniVersion":"0.3.1","name":"cni-flannel","type":"flannel"}');
    expect(renderDelegate(conf, env)).toEqual({
      cniVersion: '0.3.1',
      name: 'cni-flannel',
      type: 'bridge',
      ipMasq: false,
      isGateway: true,
      mtu: 1472,
      ipam: { type: 'host-local', ranges: [[{ subnet: '10.1.17.0/24' }]], routes: [{ dst: '10.1.0.0/16' }] },
    });
  });

  it('adds the IPv6 range and routes, keeps input routes first, and passes other keys through', () => {
    const conf = parseNetConf(JSON.stringify({
      name: 'n', type: 'flannel', delegate: { type: 'bridge', bridge: 'cbr9', mtu: 1400, ipMasq: true },
      ipam: { type: 'host-local', routes: [{ dst: '192.0.2.0/24' }], dataDir: '/x' }, runtimeConfig: { portMappings: [] },
    }));
    const d = renderDelegate(conf, { ...env, ipv6Networks: [IPNet.parse('fd00:10:1::/56')], ipv6Subnet: IPNet.parse('fd00:10:1:17::/64') });
    expect(d).toMatchObject({ bridge: 'cbr9', mtu: 1400, ipMasq: true, runtimeConfig: { portMappings: [] } });
    expect(d.ipam).toEqual({
      type: 'host-local',
      dataDir: '/x',
      ranges: [[{ subnet: '10.1.17.0/24' }], [{ subnet: 'fd00:10:1:17::/64' }]],
      routes: [{ dst: '192.0.2.0/24' }, { dst: '10.1.0.0/16' }, { dst: 'fd00:10:1::/56' }],
    });
  });

  it('writes keys sorted at every level, as Go\'s json.Marshal of a map does', () => {
    expect(stableJson({ b: 1, a: { d: 2, c: [{ z: 1, y: 2 }] } })).toBe('{"a":{"c":[{"y":2,"z":1}],"d":2},"b":1}');
  });
});
