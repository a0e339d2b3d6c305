import { UserError } from '../errors/user-error.js';
import { checkNetworkConfig, DEFAULT_BACKEND_TYPE, loadNetConfig, parseNetConfig } from './net-conf.js';

function userError(fn: () => unknown): UserError {
  try {
    fn();
  } catch (err) {
    if (err instanceof UserError) return err;
    throw err;
  }
  throw new Error('expected a UserError');
}

describe('net-conf defaults (as Go flannel fills them in)', () => {
  it('TestConfigDefaults: 10.3.0.0/16 gives /24 subnets from 10.3.1.0 to 10.3.255.0', () => {
    const cfg = loadNetConfig('{"Network": "10.3.0.0/16"}');
    expect(cfg.subnetLen).toBe(24);
    expect(cfg.subnetMin?.toString()).toBe('10.3.1.0');
    expect(cfg.subnetMax?.toString()).toBe('10.3.255.0');
    expect(cfg.enableIPv4).toBe(true);
    expect(cfg.enableIPv6).toBe(false);
    expect(cfg.enableNFTables).toBe(false);
  });

  it('TestIPv6ConfigDefaults: fc00::/48 gives /64 subnets from fc00:0:0:1:: to fc00:0:0:ffff::', () => {
    const cfg = loadNetConfig('{"EnableIPv4": false, "EnableIPv6": true, "IPv6Network": "fc00::/48"}');
    expect(cfg.ipv6SubnetLen).toBe(64);
    expect(cfg.ipv6SubnetMin?.toString()).toBe('fc00:0:0:1::');
    expect(cfg.ipv6SubnetMax?.toString()).toBe('fc00:0:0:ffff::');
  });

  it('TestConfigOverrides: explicit SubnetMin, SubnetMax and SubnetLen 28 are kept', () => {
    const cfg = loadNetConfig('{"Network": "10.3.0.0/16", "SubnetMin": "10.3.5.0", "SubnetMax": "10.3.10.0", "SubnetLen": 28}');
    expect(cfg.subnetLen).toBe(28);
    expect(cfg.subnetMin?.toString()).toBe('10.3.5.0');
    expect(cfg.subnetMax?.toString()).toBe('10.3.10.0');
  });

  it('TestIPv6ConfigOverrides: explicit IPv6 range and length 124 are kept', () => {
    const cfg = loadNetConfig(
      '{"EnableIPv6": true, "Network": "10.3.0.0/16", "IPv6Network": "fc00::/48", "IPv6SubnetMin": "fc00::100", "IPv6SubnetMax": "fc00::200", "IPv6SubnetLen": 124}',
    );
    expect(cfg.ipv6SubnetLen).toBe(124);
    expect(cfg.ipv6SubnetMin?.toString()).toBe('fc00::100');
    expect(cfg.ipv6SubnetMax?.toString()).toBe('fc00::200');
    expect(cfg.subnetLen).toBe(24);
  });

  it('takes the docs example as given', () => {
    const cfg = loadNetConfig(
      '{"Network": "10.0.0.0/8", "SubnetLen": 20, "SubnetMin": "10.10.0.0", "SubnetMax": "10.99.0.0", "Backend": {"Type": "udp", "Port": 7890}}',
    );
    expect([cfg.subnetLen, String(cfg.subnetMin), String(cfg.subnetMax), cfg.backendType]).toEqual([20, '10.10.0.0', '10.99.0.0', 'udp']);
    expect(cfg.backend).toEqual({ Type: 'udp', Port: 7890 });
  });

  it.each([
    ['10.0.0.0/22', 24],
    ['10.0.0.0/23', 25],
    ['10.0.0.0/28', 30],
  ])('defaults SubnetLen for %s to /%i', (network, len) => {
    expect(loadNetConfig(JSON.stringify({ Network: network })).subnetLen).toBe(len);
  });

  it('defaults the IPv6 length to prefix + 2 above /62', () => {
    expect(loadNetConfig('{"EnableIPv4": false, "EnableIPv6": true, "IPv6Network": "fd00::/100"}').ipv6SubnetLen).toBe(102);
  });

  it('matches field names case-insensitively, as Go does, and reports unknown keys', () => {
    const unknown: string[] = [];
    const cfg = loadNetConfig('{"network": "10.5.0.0/16", "subnetlen": 26, "backend": {"type": "host-gw"}, "Netwrk": 1}', {
      onUnknownField: (k) => unknown.push(k),
    });
    expect(String(cfg.network)).toBe('10.5.0.0/16');
    expect(cfg.subnetLen).toBe(26);
    expect(cfg.backendType).toBe('host-gw');
    expect(unknown).toEqual(['Netwrk']);
  });

  it('prefers the exact field name over a case-folded one', () => {
    expect(String(parseNetConfig('{"network": "10.9.0.0/16", "Network": "10.5.0.0/16"}').network)).toBe('10.5.0.0/16');
  });

  it(`defaults to the ${DEFAULT_BACKEND_TYPE} backend when Backend is absent or empty (Go flannel: udp)`, () => {
    expect(parseNetConfig('{"Network": "10.5.0.0/16"}').backendType).toBe('vxlan');
    expect(parseNetConfig('{"Network": "10.5.0.0/16", "Backend": {}}').backendType).toBe('vxlan');
  });

  it('masks a network with host bits set', () => {
    expect(String(loadNetConfig('{"Network": "10.1.2.3/16"}').network)).toBe('10.1.0.0/16');
  });

  it('leaves its input untouched and is idempotent', () => {
    const parsed = parseNetConfig('{"Network": "10.3.0.0/16"}');
    const once = checkNetworkConfig(parsed);
    expect(parsed.subnetLen).toBe(0);
    expect(checkNetworkConfig(once)).toEqual(once);
  });
});

describe('net-conf errors name the field and the fix', () => {
  it.each([
    ['{"Backend": {"Type": "vxlan"}}', 'Network', /please define a correct Network parameter in the flannel config/],
    ['{"Network": "10.3.0.0/16", "SubnetLen": 31}', 'SubnetLen', /SubnetLen must be less than \/31/],
    ['{"Network": "10.3.0.0/16", "SubnetLen": 17}', 'SubnetLen', /network must be able to accommodate at least four subnets/],
    ['{"Network": "10.3.0.0/29"}', 'Network', /network is too small\. Minimum useful network prefix is \/28/],
    ['{"Network": "10.3.0.0/16", "SubnetMin": "10.4.0.0"}', 'SubnetMin', /SubnetMin is not in the range of the Network/],
    ['{"Network": "10.3.0.0/16", "SubnetMax": "10.2.0.0"}', 'SubnetMax', /SubnetMax is not in the range of the Network/],
    ['{"Network": "10.3.0.0/16", "SubnetMin": "10.3.1.1"}', 'SubnetMin', /SubnetMin is not on a SubnetLen boundary: 10\.3\.1\.1/],
    ['{"Network": "10.3.0.0/16", "SubnetMax": "10.3.9.128"}', 'SubnetMax', /SubnetMax is not on a SubnetLen boundary: 10\.3\.9\.128/],
    ['{"Network": "10.3.0.0/16", "SubnetMin": "10.3.9.0", "SubnetMax": "10.3.2.0"}', 'SubnetMin', /is after SubnetMax/],
    ['{"EnableIPv6": true, "Network": "10.3.0.0/16"}', 'IPv6Network', /please define a correct IPv6Network parameter/],
    ['{"EnableIPv6": true, "Network": "10.3.0.0/16", "IPv6Network": "fc00::/48", "IPv6SubnetLen": 127}', 'IPv6SubnetLen', /SubnetLen must be less than \/127/],
    ['{"EnableIPv6": true, "Network": "10.3.0.0/16", "IPv6Network": "fc00::/48", "IPv6SubnetLen": 49}', 'IPv6SubnetLen', /at least four subnets/],
    [
      '{"EnableIPv6": true, "Network": "10.3.0.0/16", "IPv6Network": "fc00::/125"}',
      'IPv6Network',
      /IPv6Network is too small\. Minimum useful network prefix is \/124/,
    ],
    [
      '{"EnableIPv6": true, "Network": "10.3.0.0/16", "IPv6Network": "fc00::/48", "IPv6SubnetMin": "fc01::"}',
      'IPv6SubnetMin',
      /IPv6SubnetMin is not in the range of the IPv6Network/,
    ],
    [
      '{"EnableIPv6": true, "Network": "10.3.0.0/16", "IPv6Network": "fc00::/48", "IPv6SubnetMax": "fc01::"}',
      'IPv6SubnetMax',
      /IPv6SubnetMax is not in the range of the IPv6Network/,
    ],
    [
      '{"EnableIPv6": true, "Network": "10.3.0.0/16", "IPv6Network": "fc00::/48", "IPv6SubnetMin": "fc00::1"}',
      'IPv6SubnetMin',
      /IPv6SubnetMin is not on a SubnetLen boundary: fc00::1/,
    ],
    ['{"EnableIPv4": false}', 'EnableIPv4', /both disabled/],
  ])('%s → %s', (json, field, message) => {
    const err = userError(() => loadNetConfig(json));
    expect(err.field).toBe(field);
    expect(err.message).toMatch(message);
    expect(err.hint).toBeTruthy();
  });

  it.each([
    ['{"Network": "10.3.0.0/16",}', 'net-conf', /not valid JSON/],
    ['[]', 'net-conf', /must be a JSON object/],
    ['{"Network": "fd00::/64"}', 'Network', /is not an IPv4 CIDR/],
    ['{"Network": "10.3.0.0"}', 'Network', /is not an IPv4 CIDR/],
    ['{"IPv6Network": "10.0.0.0/8"}', 'IPv6Network', /is not an IPv6 CIDR/],
    ['{"SubnetLen": "24"}', 'SubnetLen', /non-negative whole number/],
    ['{"SubnetLen": -1}', 'SubnetLen', /non-negative whole number/],
    ['{"SubnetMin": "10.3.1"}', 'SubnetMin', /not an IPv4 address/],
    ['{"EnableIPv6": "yes"}', 'EnableIPv6', /must be true or false/],
    ['{"Backend": "vxlan"}', 'Backend', /error decoding Backend property of config/],
    ['{"Backend": {"Port": 8285}}', 'Backend.Type', /missing/],
    ['{"Backend": {"Type": 7}}', 'Backend.Type', /must be a string/],
  ])('rejects %s at parse time', (json, field, message) => {
    const err = userError(() => parseNetConfig(json));
    expect(err.field).toBe(field);
    expect(err.message).toMatch(message);
  });
});

describe('net-conf as Go reads it', () => {
  it('takes the last of several keys that match a field ignoring case, in document order', () => {
    expect(String(parseNetConfig('{"Network":"10.1.0.0/16","network":"10.2.0.0/16","Network":"10.3.0.0/16"}').network)).toBe('10.3.0.0/16');
    expect(String(parseNetConfig('{"NETWORK":"10.1.0.0/16","Network":"10.2.0.0/16","network":"10.4.0.0/16"}').network)).toBe('10.4.0.0/16');
    expect(parseNetConfig('{"Network":"10.1.0.0/16","Backend":{"Type":"host-gw","type":"vxlan"}}').backendType).toBe('vxlan');
  });

  it('ignores a UTF-8 byte-order mark', () => {
    expect(String(parseNetConfig('\uFEFF{"Network":"10.1.0.0/16"}').network)).toBe('10.1.0.0/16');
  });

  it('reads a config of several MiB in one pass', () => {
    const big = JSON.stringify({
      Network: '10.1.0.0/16',
      Backend: { Type: 'vxlan', Padding: 'x'.repeat(5 << 20), List: Array.from({ length: 50_000 }, (_, i) => `k${i}`) },
    });
    const started = performance.now();
    expect(parseNetConfig(big).backendType).toBe('vxlan');
    // Not a timing claim: a quadratic scan of 5 MiB would take minutes, not this order of magnitude.
    expect(performance.now() - started).toBeLessThan(20_000);
  });

  it('keeps a hostile __proto__ key as plain data', () => {
    const cfg = parseNetConfig('{"Network":"10.1.0.0/16","Backend":{"Type":"vxlan","__proto__":{"polluted":true}}}');
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.getPrototypeOf(cfg.backend)).toBe(Object.prototype);
  });

  it('names the position of a syntax error', () => {
    expect(() => parseNetConfig('{"Network": }')).toThrow(/net-conf: not valid JSON \(Unexpected token "}" at position 12\)/);
  });
});
