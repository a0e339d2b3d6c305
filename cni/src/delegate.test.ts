import { IPNet } from '@flannel-ts/core/ip';
import { renderDelegate, stableJson } from './delegate.js';
import { decodeNetConf, parseNetConf } from './netconf.js';

const parse = (text: string) => parseNetConf(decodeNetConf(text));

const env = { networks: [IPNet.parse('10.1.0.0/16')], ipv6Networks: [], subnet: IPNet.parse('10.1.17.0/24'), mtu: 1472, ipMasq: true };

describe('renderDelegate', () => {
  it("renders Go flannel's unit-test delegate", () => {
    const conf = parse('{"cniVersion":"0.3.1","name":"cni-flannel","type":"flannel"}');
    expect(renderDelegate(conf, env, conf.cniVersion)).toEqual({
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
    const conf = parse(
      JSON.stringify({
        name: 'n',
        type: 'flannel',
        delegate: { type: 'bridge', bridge: 'cbr9', mtu: 1400, ipMasq: true },
        ipam: { type: 'host-local', routes: [{ dst: '192.0.2.0/24' }], dataDir: '/x' },
        runtimeConfig: { portMappings: [] },
      }),
    );
    const v6 = { ipv6Networks: [IPNet.parse('fd00:10:1::/56')], ipv6Subnet: IPNet.parse('fd00:10:1:17::/64') };
    const d = renderDelegate(conf, { ...env, ...v6 }, '1.0.0');
    expect(d).toMatchObject({ cniVersion: '1.0.0', bridge: 'cbr9', mtu: 1400, ipMasq: true, runtimeConfig: { portMappings: [] } });
    expect(d.ipam).toEqual({
      type: 'host-local',
      dataDir: '/x',
      ranges: [[{ subnet: '10.1.17.0/24' }], [{ subnet: 'fd00:10:1:17::/64' }]],
      routes: [{ dst: '192.0.2.0/24' }, { dst: '10.1.0.0/16' }, { dst: 'fd00:10:1::/56' }],
    });
  });

  it("writes keys sorted at every level, as Go's json.Marshal of a map does", () => {
    expect(stableJson({ b: 1, a: { d: 2, c: [{ z: 1, y: 2 }] } })).toBe('{"a":{"c":[{"y":2,"z":1}],"d":2},"b":1}');
  });
});
