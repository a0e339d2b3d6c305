import { contractMismatch, parseContractVersion } from './contract-version.js';

describe('backend contract versions', () => {
  it('reads "major.minor" and a bare major', () => {
    expect(parseContractVersion('1.1')).toEqual([1, 1]);
    expect(parseContractVersion(1)).toEqual([1, 0]);
    expect(parseContractVersion('2')).toEqual([2, 0]);
    expect(parseContractVersion('1.x')).toBeUndefined();
    expect(parseContractVersion(1.5)).toBeUndefined();
  });

  it('loads a plugin of the same major and an older or equal minor, and nothing else', () => {
    expect(contractMismatch(1)).toBeUndefined();
    expect(contractMismatch('1.0')).toBeUndefined();
    expect(contractMismatch('1.1')).toBeUndefined();
    expect(contractMismatch('1.2')).toBeUndefined();
    expect(contractMismatch('1.3')).toBeUndefined();
    expect(contractMismatch('1.4')).toBeUndefined();
    expect(contractMismatch('1.5')).toBeUndefined();
    expect(contractMismatch('1.6')).toMatch(/implements backend contract v1\.6, but this flanneld implements v1\.5/);
    expect(contractMismatch(0)).toMatch(/v0\.0/);
    expect(contractMismatch('2.0')).toMatch(/v2\.0/);
    expect(contractMismatch('one')).toMatch(/contractVersion "one" is not a version/);
  });
});
