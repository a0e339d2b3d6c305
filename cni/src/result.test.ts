import { convertResult, parseResult } from './result.js';

const v1 = {
  cniVersion: '1.0.0',
  interfaces: [{ name: 'eth0', sandbox: '/var/run/netns/p' }],
  ips: [{ interface: 0, address: '10.1.0.2/24', gateway: '10.1.0.1' }, { address: 'fd00::2/64' }],
  routes: [{ dst: '10.0.0.0/8' }],
  dns: {},
};

describe('convertResult', () => {
  it('only relabels within the 1.x layout', () => {
    expect(convertResult(v1, '1.1.0')).toEqual({ ...v1, cniVersion: '1.1.0' });
  });

  it('adds the address family as "version" going down to 0.4.0, and drops it going up again', () => {
    const v04 = convertResult(v1, '0.4.0');
    expect(v04.ips).toEqual([
      { interface: 0, address: '10.1.0.2/24', gateway: '10.1.0.1', version: '4' },
      { address: 'fd00::2/64', version: '6' },
    ]);
    expect(convertResult(v04, '1.0.0')).toEqual(v1);
  });

  it("turns a 0.2.0 result's ip4/ip6 into ips and routes", () => {
    const legacy = {
      cniVersion: '0.2.0',
      ip4: { ip: '10.1.0.2/24', gateway: '10.1.0.1', routes: [{ dst: '10.0.0.0/8' }] },
      ip6: { ip: 'fd00::2/64' },
      dns: {},
    };
    expect(convertResult(legacy, '0.3.1')).toEqual({
      cniVersion: '0.3.1',
      ips: [
        { version: '4', address: '10.1.0.2/24', gateway: '10.1.0.1' },
        { version: '6', address: 'fd00::2/64' },
      ],
      routes: [{ dst: '10.0.0.0/8' }],
      dns: {},
    });
  });

  it('refuses to squeeze a newer result into 0.2.0 (code 1)', () => {
    expect(() => convertResult(v1, '0.2.0')).toThrow(expect.objectContaining({ code: 1 }));
  });
});

describe('parseResult', () => {
  it('accepts a result object', () => {
    expect(parseResult(JSON.stringify(v1), 'bridge')).toEqual(v1);
  });

  it.each([
    ['', 'did not print a CNI result'],
    ['hello', 'did not print a CNI result'],
    ['[]', 'did not print a CNI result'],
    ['{}', 'names no CNI version'],
    ['{"cniVersion":"7.0.0"}', 'names no CNI version'],
    ['{"cniVersion":"1.0.0","code":7,"msg":"x"}', 'printed an error object'],
    ['{"cniVersion":"1.0.0","ips":{}}', '"ips" is not a list'],
  ])('refuses %j with code 999', (stdout, why) => {
    expect(() => parseResult(stdout, 'bridge')).toThrow(expect.objectContaining({ code: 999, message: expect.stringContaining(why) }));
  });
});
