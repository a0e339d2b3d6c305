import { negotiate, parseVersionReply } from './versions.js';

const BRIDGE_111 = ['0.1.0', '0.2.0', '0.3.0', '0.3.1', '0.4.0', '1.0.0'];

describe('negotiate', () => {
  it.each([
    ['1.1.0', BRIDGE_111, '1.0.0'],
    ['1.0.0', BRIDGE_111, '1.0.0'],
    ['0.3.1', BRIDGE_111, '0.3.1'],
    ['0.1.0', BRIDGE_111, '0.1.0'],
    ['1.1.0', ['1.1.0', '0.4.0', '2.0.0'], '1.1.0'],
    ['1.0.0', ['0.2.0', '0.1.0'], '0.2.0'],
  ])('the runtime asks %s, the delegate speaks %j: %s', (wanted, delegate, expected) => {
    expect(negotiate(delegate, wanted, 'bridge')).toBe(expected);
  });

  it('fails with code 1 when the delegate speaks only newer or unknown versions, unless told to take the oldest', () => {
    expect(() => negotiate(['1.0.0'], '0.4.0', 'x')).toThrow(expect.objectContaining({ code: 1 }));
    expect(() => negotiate(['2.0.0'], '1.1.0', 'x')).toThrow(/none of them usable/);
    expect(negotiate(['1.0.0', '1.1.0'], '0.4.0', 'x', true)).toBe('1.0.0');
  });
});

describe('parseVersionReply', () => {
  it('reads the supported list, and a pre-0.3.0 answer as 0.1.0 and 0.2.0', () => {
    expect(parseVersionReply('{"cniVersion":"1.0.0","supportedVersions":["0.4.0","1.0.0"]}', 'x')).toEqual(['0.4.0', '1.0.0']);
    expect(parseVersionReply('{"cniVersion":"0.2.0"}', 'x')).toEqual(['0.1.0', '0.2.0']);
  });

  it.each(['', 'nonsense', '[]', '{"supportedVersions":"1.0.0"}', '{"supportedVersions":[1]}'])('refuses %j with code 999', (text) => {
    expect(() => parseVersionReply(text, 'x')).toThrow(expect.objectContaining({ code: 999 }));
  });
});
