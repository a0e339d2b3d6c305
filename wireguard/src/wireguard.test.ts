import { chmodSync, lstatSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IP } from '@flannel-ts/core';
import { WgSecret, wgKeyToBase64 } from '@flannel-ts/core/netlink';
import { RecordingLogger } from '@flannel-ts/core/testing';
import { parseWireguardConfig } from './config.js';
import { clamp, generatePrivateKey, keyFilePath, loadOrCreateKey, publicKeyOf } from './keys.js';
import { autoEndpointFamily, readPeerData } from './peer.js';

// A key pair made with `wg genkey | tee k | wg pubkey` (the same pair the netlink recordings use).
const K1 = 'YB/2WofqO69W6t66B46zlqpb6EXlCVmpl5H+3K7zIXY=';
const PUB1 = 'veHUt9l5AF0hInVjwKoMtpMa2zy4+maQ+g1plT9sXwE=';
const PSK = 'OvXZng3d+sk6F28sC5Z/sdFEQLluskZb5KXLbKhbUBE=';

describe('parseWireguardConfig', () => {
  it("applies Go flannel's defaults and folds key case", () => {
    expect(parseWireguardConfig({ Type: 'wireguard' })).toEqual({ listenPort: 51820, listenPortV6: 51821, persistentKeepalive: 0, mode: 'separate' });
    const cfg = parseWireguardConfig({ listenport: 5000, LISTENPORTV6: 5001, mtu: 9000, persistentkeepaliveinterval: 25, mode: 'auto', psk: PSK });
    expect(cfg).toMatchObject({ listenPort: 5000, listenPortV6: 5001, mtu: 9000, persistentKeepalive: 25, mode: 'auto' });
    expect(cfg.psk!.equals(WgSecret.fromBase64(PSK))).toBe(true);
  });

  it('names the field and the fix, and never quotes a PSK', () => {
    expect(() => parseWireguardConfig({ Mode: 'both' })).toThrow(
      'Backend.Mode: no valid Mode configured: "both"; use one of "separate", "auto", "ipv4", "ipv6"',
    );
    expect(() => parseWireguardConfig({ ListenPort: 0 })).toThrow(/^Backend.ListenPort: .* is not a whole number from 1 to 65535/);
    expect(() => parseWireguardConfig({ PersistentKeepaliveInterval: '25s' })).toThrow(/Backend.PersistentKeepaliveInterval/);
    const almost = `${PSK.slice(0, 40)}abd=`; // 44 characters, but not 32 bytes
    let message = '';
    try {
      parseWireguardConfig({ PSK: almost });
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toBe(
      'Backend.PSK: error decoding wireguard backend config: the PSK is not a WireGuard key (44 characters of base64, 32 bytes); make one with `wg genpsk`, or leave PSK out',
    );
    expect(message).not.toContain(almost.slice(0, 20));
  });

  it('warns about unknown fields', () => {
    const logger = new RecordingLogger();
    parseWireguardConfig({ Type: 'wireguard', ListenPorts: 1 }, logger);
    expect(logger.entries.map((e) => [e.msg, e.obj])).toEqual([['unknown wireguard backend field, ignored', { field: 'Backend.ListenPorts' }]]);
  });
});

describe('keys', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'fts-wgkey-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('derives the public key as `wg pubkey` does', () => {
    expect(wgKeyToBase64(publicKeyOf(WgSecret.fromBase64(K1)))).toBe(PUB1);
  });

  it('makes clamped keys, whose public key is that of the clamped form', () => {
    const k = generatePrivateKey();
    const b = k.bytes();
    expect([b[0]! & 7, b[31]! & 0xc0]).toEqual([0, 0x40]);
    expect(clamp(k).equals(k)).toBe(true);
    expect(generatePrivateKey().equals(k)).toBe(false);
  });

  it('keeps the key in WIREGUARD_KEY_FILE, else /run/flannel/wgkey', () => {
    expect(keyFilePath({})).toBe('/run/flannel/wgkey');
    expect(keyFilePath({ WIREGUARD_KEY_FILE: '/etc/wg/k' })).toBe('/etc/wg/k');
  });

  it('makes the file 0400 in a new 0755 directory, whatever the umask, and reads the same key back', () => {
    const path = join(dir, 'run', 'flannel', 'wgkey');
    const logger = new RecordingLogger();
    const old = process.umask(0o077);
    let first: ReturnType<typeof loadOrCreateKey>;
    try {
      first = loadOrCreateKey(path, logger);
    } finally {
      process.umask(old);
    }
    expect(first.created).toBe(true);
    expect(statSync(path).mode & 0o777).toBe(0o400);
    expect(statSync(join(dir, 'run', 'flannel')).mode & 0o777).toBe(0o755);
    expect(statSync(join(dir, 'run')).mode & 0o777).toBe(0o755);
    // wg(8)'s text form with no newline, so that Go flannel (wgtypes.ParseKey) reads it too.
    expect(readFileSync(path, 'utf8')).toMatch(/^[A-Za-z0-9+/]{43}=$/);
    const again = loadOrCreateKey(path, logger);
    expect(again.created).toBe(false);
    expect(again.key.equals(first.key)).toBe(true);
    expect(JSON.stringify(logger.entries)).not.toContain(first.key.toBase64());
  });

  it('reads a key written by `wg genkey` (with its newline) and clamps it as the kernel will', () => {
    const path = join(dir, 'wgkey');
    writeFileSync(path, `${K1}\n`, { mode: 0o400 });
    const { key } = loadOrCreateKey(path, new RecordingLogger());
    expect(key.equals(clamp(WgSecret.fromBase64(K1)))).toBe(true);
    expect(wgKeyToBase64(publicKeyOf(key))).toBe(PUB1);
  });

  it('refuses a malformed key file without printing what it holds', () => {
    const path = join(dir, 'wgkey');
    const content = `${K1.slice(0, 30)}!!!secret-material`;
    writeFileSync(path, content, { mode: 0o400 });
    let message = '';
    try {
      loadOrCreateKey(path, new RecordingLogger());
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toBe(
      `WIREGUARD_KEY_FILE: the WireGuard key file ${path} does not hold a key: 44 characters of base64 (32 bytes) expected, found ${content.length} bytes; ` +
        `delete ${path} to have a new key made at the next start (peers take the new public key from our lease), or write a key from \`wg genkey\` into it`,
    );
    expect(message).not.toContain('secret-material');
    expect(message).not.toContain(K1.slice(0, 10));
  });

  it('never reads or writes through a symbolic link', () => {
    const target = join(dir, 'elsewhere');
    writeFileSync(target, K1, { mode: 0o400 });
    const link = join(dir, 'wgkey');
    symlinkSync(target, link);
    expect(() => loadOrCreateKey(link, new RecordingLogger())).toThrow(`the WireGuard key file ${link}: it is a symbolic link, which is not followed`);
    // A dangling link is not "missing": nothing is created at its target.
    const dangling = join(dir, 'dangling');
    symlinkSync(join(dir, 'nowhere'), dangling);
    expect(() => loadOrCreateKey(dangling, new RecordingLogger())).toThrow(/symbolic link/);
    expect(() => lstatSync(join(dir, 'nowhere'))).toThrow(/ENOENT/);
  });

  it('refuses a directory, and warns about a file others can read', () => {
    expect(() => loadOrCreateKey(dir, new RecordingLogger())).toThrow(`the WireGuard key file ${dir} is not a regular file`);
    const path = join(dir, 'wgkey');
    writeFileSync(path, K1);
    chmodSync(path, 0o644);
    const logger = new RecordingLogger();
    loadOrCreateKey(path, logger);
    expect(logger.entries.map((e) => e.msg)).toEqual(['the WireGuard key file can be read by others than its owner; chmod 0400 it']);
  });
});

describe('peer leases', () => {
  const key = wgKeyToBase64(publicKeyOf(WgSecret.fromBase64(K1)));

  it('reads {PublicKey, Port}, case-insensitively, with Port optional (older Go flannel)', () => {
    expect(readPeerData({ PublicKey: key, Port: 51820 }, 'BackendData')).toMatchObject({ port: 51820 });
    expect(readPeerData({ publickey: key }, 'BackendData')).not.toHaveProperty('port');
    expect(readPeerData({ PublicKey: key, Port: 0 }, 'BackendData')).not.toHaveProperty('port');
  });

  it('says what is wrong with a malformed one', () => {
    expect(readPeerData('x', 'BackendData')).toEqual({ problem: 'BackendData is not an object' });
    expect(readPeerData({}, 'BackendV6Data')).toEqual({ problem: 'BackendV6Data.PublicKey is missing' });
    expect(readPeerData({ PublicKey: 'abc' }, 'BackendData')).toEqual({ problem: 'BackendData.PublicKey "abc" is not a WireGuard public key' });
    expect(readPeerData({ PublicKey: key, Port: 70000 }, 'BackendData')).toEqual({ problem: 'BackendData.Port 70000 is not a port number' });
  });

  it("auto mode picks a peer's endpoint family as Go flannel does", () => {
    const ip = (s: string) => IP.parse(s);
    const ours = { v4: ip('192.0.2.10'), v6: ip('2001:db8::10') };
    expect(autoEndpointFamily({ v4: ip('192.0.2.2') }, ours)).toBe(4);
    expect(autoEndpointFamily({ v6: ip('2001:db8::2') }, ours)).toBe(6);
    expect(autoEndpointFamily({ v4: ip('192.0.2.2'), v6: ip('2001:db8::2') }, ours)).toBe(4); // public IPv4
    expect(autoEndpointFamily({ v4: ip('10.0.0.2'), v6: ip('2001:db8::2') }, ours)).toBe(6); // private IPv4, public IPv6 both ends
    expect(autoEndpointFamily({ v4: ip('10.0.0.2'), v6: ip('fd00::2') }, ours)).toBe(4); // ULA: back to IPv4
    expect(autoEndpointFamily({ v4: ip('10.0.0.2'), v6: ip('2001:db8::2') }, { v4: ours.v4, v6: ip('fd00::10') })).toBe(4);
    expect(autoEndpointFamily({ v4: ip('192.0.2.2'), v6: ip('2001:db8::2') }, { v6: ours.v6 })).toBe(6); // we have no IPv4
  });
});
