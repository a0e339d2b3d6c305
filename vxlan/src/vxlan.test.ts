import { IP, IPNet, MAC } from '@flannel-ts/core';
import { parseVxlanConfig } from './config.js';
import { FakeNetlink, RecordingLogger } from '@flannel-ts/core/testing';
import { applyChecksumOffload, decideChecksumOffload } from './checksum.js';
import { readPeer } from './peer.js';

describe('parseVxlanConfig', () => {
  it("applies Go flannel's defaults and folds key case", () => {
    expect(parseVxlanConfig({ Type: 'vxlan' })).toEqual({ vni: 1, port: 0, gbp: false, learning: false, directRouting: false, checksumOffload: 'auto' });
    expect(parseVxlanConfig({ type: 'vxlan', vni: 42, port: 4789, mtu: 9000, directrouting: true })).toMatchObject({
      vni: 42,
      port: 4789,
      mtu: 9000,
      directRouting: true,
    });
  });

  it('names the field and the fix for bad values', () => {
    expect(() => parseVxlanConfig({ VNI: 'one' })).toThrow(
      'Backend.VNI: error decoding VXLAN backend config: "one" is not a whole number from 1 to 16777215; set VNI to a number in that range, or leave it out',
    );
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

  it('finds VtepMAC whatever the case of its name, as Go decodes it', () => {
    expect(readPeer(lease({ backendData: { vni: 1, vtepmac: 'c6:d2:32:6f:8f:44' } }), 4)).toMatchObject({ vtepMAC: MAC.parse('c6:d2:32:6f:8f:44') });
    expect(readPeer(lease({ backendData: { VNI: 1 } }), 4)).toEqual({ problem: 'BackendData.VtepMAC undefined is not a MAC address' });
  });

  it('says what is wrong with malformed peer data', () => {
    expect(readPeer(lease({ backendData: { VtepMAC: 'zz' } }), 4)).toEqual({ problem: 'BackendData.VtepMAC "zz" is not a MAC address' });
    expect(readPeer(lease({ backendData: { VtepMAC: '01:00:5e:00:00:01' } }), 4)).toMatchObject({ problem: expect.stringMatching(/not a unicast/) });
    expect(readPeer(lease({ backendData: { VtepMAC: '00:00:00:00:00:00' } }), 4)).toMatchObject({ problem: expect.stringMatching(/not a unicast/) });
    expect(readPeer(lease({ backendData: 'x' }), 4)).toEqual({ problem: 'BackendData is not an object' });
    expect(readPeer(lease({ backendType: 'host-gw', backendData: {} }), 4)).toMatchObject({ problem: expect.stringMatching(/not "vxlan"/) });
    expect(readPeer(lease({ publicIP: undefined, backendData: { VtepMAC: 'c6:d2:32:6f:8f:44' } }), 4)).toEqual({ problem: 'no IPv4 PublicIP' });
  });
});

describe('ChecksumOffload', () => {
  it('parses "auto" (the default), "on" and "off", and names the field otherwise', () => {
    expect(parseVxlanConfig({ ChecksumOffload: 'Off' }).checksumOffload).toBe('off');
    expect(parseVxlanConfig({ checksumoffload: 'on' }).checksumOffload).toBe('on');
    expect(() => parseVxlanConfig({ ChecksumOffload: false })).toThrow(
      'Backend.ChecksumOffload: error decoding VXLAN backend config: false is not one of "auto", "on", "off"; use "auto" (off on kernels before 5.7), "on" or "off"',
    );
  });

  it('"auto" turns offload off on kernels before 5.7 only', () => {
    expect(decideChecksumOffload('auto', '4.19.0-26-amd64')).toMatchObject({ offload: false });
    expect(decideChecksumOffload('auto', '5.6.19')).toMatchObject({ offload: false });
    expect(decideChecksumOffload('auto', '5.7.0')).toMatchObject({ offload: true });
    expect(decideChecksumOffload('auto', '6.1.0-18-amd64')).toMatchObject({ offload: true });
    expect(decideChecksumOffload('off', '6.1.0')).toMatchObject({ offload: false, reason: 'ChecksumOffload is "off"' });
    expect(decideChecksumOffload('on', '4.19.0')).toMatchObject({ offload: true });
  });

  it('sets the device as decided, and leaves a kernel default alone under "auto"', async () => {
    const nl = new FakeNetlink();
    nl.addDevice('flannel.1');
    const logger = new RecordingLogger();
    await applyChecksumOffload(nl, 'flannel.1', decideChecksumOffload('auto', '6.1.0'), logger);
    expect(nl.txChecksum.size).toBe(0);
    await applyChecksumOffload(nl, 'flannel.1', decideChecksumOffload('auto', '4.19.0'), logger);
    expect(nl.txChecksum.get('flannel.1')).toBe(false);
    await applyChecksumOffload(nl, 'flannel.1', decideChecksumOffload('on', '4.19.0'), logger);
    expect(nl.txChecksum.get('flannel.1')).toBe(true);
  });
});
