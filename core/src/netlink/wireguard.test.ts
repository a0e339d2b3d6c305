// The wireguard generic netlink codec against messages recorded from the kernel. The vectors are what
// wg(8) and the kernel exchanged in the nested kernel (Debian's 6.1), captured on an nlmon device by
// scripts/record-wireguard-netlink.sh (`test/vm/vmrun -- scripts/record-wireguard-netlink.sh`):
//   `genl ctrl get name wireguard` as wg(8) sends it, and the controller's answer;
//   `wg set wg0 private-key K1 listen-port 51820 fwmark 0x10 peer P2 preshared-key PSK endpoint 192.0.2.12:51820
//    persistent-keepalive 25 allowed-ips 10.244.2.0/24,fd00:10:244:2::/64 peer P3 endpoint [2001:db8::13]:51821
//    allowed-ips 10.244.3.0/24`;
//   `wg show wg0 dump`: its request and the kernel's reply (the reply's datagram ends with NLMSG_DONE);
//   `wg set wg0 peer P3 remove`.
// Each is a whole netlink message; the header's sequence number and port id are the recording's.
import { inspect } from 'node:util';
import { IP } from '../ip/ip.js';
import { IPNet } from '../ip/ipnet.js';
import { decodeGenlFamily, genlGetFamily } from './genl.js';
import { MessageWriter } from './nl/attrs.js';
import { GENL_ID_CTRL, NLMSG_DONE, NLMSG_HDRLEN, WG_CMD_SET_DEVICE } from './nl/constants.js';
import * as requests from './requests.js';
import type { NetlinkRequest } from './socket/netlink-socket.js';
import { decodeWgDevice, encodeWgGetDevice, WG_SET_MESSAGE_BYTES, wgKeyFromBase64, wgKeyToBase64, WgSecret, type WgDeviceConfig } from './wireguard.js';

// Throwaway keys made for the recording with `wg genkey`, `wg pubkey` and `wg genpsk`.
const K1 = 'YB/2WofqO69W6t66B46zlqpb6EXlCVmpl5H+3K7zIXY=';
const PUB1 = 'veHUt9l5AF0hInVjwKoMtpMa2zy4+maQ+g1plT9sXwE=';
const P2 = 'jTbrpui9F1lcWt18KRnDdKJRez/ckda5t/w1zTozCH4=';
const P3 = 'L3cnyzSkDI20gHE4+PdSP9XwL3wvnIRTtj32hEk2Byc=';
const PSK = 'OvXZng3d+sk6F28sC5Z/sdFEQLluskZb5KXLbKhbUBE=';

const CTRL_REQUEST = ['24000000100005007c910f6b00000000030100000e000200776972656775617264000000'].join('');
const CTRL_REPLY = [
  '70000000100000007c910f6b81000000010200000e00020077697265677561726400000006000100200000000800030001000000080004000000000008000500',
  '080000002c000600140001000800010000000000080002001c000000140002000800010001000000080002001a000000',
].join('');
const SET = [
  '7c010000200005007c910f6b0000000001010000080002007767300024000300601ff65a87ea3baf56eadeba078eb396aa5be845e50959a99791fedcaef32176',
  '060006006cca000008000700100000002c010880b8000080240001008d36eba6e8bd17595c5add7c2919c374a2517b3fdc91d6b9b7fc35cd3a33087e24000200',
  '3af5d99e0dddfac93a176f2c0b967fb1d14440b96eb2465be4a5cb6ca85b5011140004000200ca6cc000020c0000000000000000060005001900000008000300',
  '02000000480009801c0000800600010002000000080002000af40200050003001800000028000080060001000a00000014000200fd0000100244000200000000',
  '00000000050003004000000070000080240001002f7727cb34a40c8db4807138f8f7523fd5f02f7c2f9c8453b63df68449360727200004000a00ca6d00000000',
  '20010db8000000000000000000000013000000000800030002000000200009801c0000800600010002000000080002000af403000500030018000000',
].join('');
const GET_REQUEST = ['1c000000200005037d910f6b00000000000100000800020077673000'].join('');
const GET_REPLY = [
  '2c020000200002007d910f6b8200000000010000060006006cca000008000700100000000800010002000000080002007767300024000300601ff65a87ea3baf',
  '56eadeba078eb396aa5be845e50959a99791fedcaef3217624000400bde1d4b7d979005d21227563c0aa0cb6931adb3cb8fa6690fa0d69953f6c5f01b0010880',
  'e4000080240001008d36eba6e8bd17595c5add7c2919c374a2517b3fdc91d6b9b7fc35cd3a33087e240002003af5d99e0dddfac93a176f2c0b967fb1d14440b9',
  '6eb2465be4a5cb6ca85b5011140006000000000000000000000000000000000006000500190000000c00080000000000000000000c0007000000000000000000',
  '08000a0001000000140004000200ca6cc000020c0000000000000000480009801c00008005000300180000000600010002000000080002000af4020028000080',
  '0500030040000000060001000a00000014000200fd000010024400020000000000000000c8000080240001002f7727cb34a40c8db4807138f8f7523fd5f02f7c',
  '2f9c8453b63df6844936072724000200000000000000000000000000000000000000000000000000000000000000000014000600000000000000000000000000',
  '0000000006000500000000000c00080000000000000000000c000700000000000000000008000a0001000000200004000a00ca6d0000000020010db800000000',
  '000000000000001300000000200009801c00008005000300180000000600010002000000080002000af4030014000000030002007d910f6b8200000000000000',
].join('');
const REMOVE = [
  '50000000200005007d910f6b000000000101000008000200776730003400088030000080240001002f7727cb34a40c8db4807138f8f7523fd5f02f7c2f9c8453',
  'b63df684493607270800030001000000',
].join('');

const hex = (h: string) => Buffer.from(h, 'hex');
/** A recorded message's body: what follows the 16-byte netlink header. */
const body = (h: string) => hex(h).subarray(NLMSG_HDRLEN);
const header = (h: string) => ({ type: hex(h).readUInt16LE(4), flags: hex(h).readUInt16LE(6) });
/** What a request writes after the netlink header (the socket writes the header). */
function encode(r: NetlinkRequest): Buffer {
  const w = new MessageWriter();
  r.body(w);
  return w.toBuffer();
}
/** Every message of a datagram. */
function messages(buf: Buffer): { type: number; payload: Buffer }[] {
  const out: { type: number; payload: Buffer }[] = [];
  for (let off = 0; off + NLMSG_HDRLEN <= buf.length;) {
    const len = buf.readUInt32LE(off);
    out.push({ type: buf.readUInt16LE(off + 4), payload: buf.subarray(off + NLMSG_HDRLEN, off + len) });
    off += (len + 3) & ~3;
  }
  return out;
}

const RECORDED_SET: WgDeviceConfig = {
  device: 'wg0',
  privateKey: WgSecret.fromBase64(K1),
  listenPort: 51820,
  fwmark: 0x10,
  peers: [
    {
      publicKey: wgKeyFromBase64(P2),
      presharedKey: WgSecret.fromBase64(PSK),
      endpoint: { ip: IP.parse('192.0.2.12'), port: 51820 },
      persistentKeepalive: 25,
      replaceAllowedIPs: true,
      allowedIPs: [IPNet.parse('10.244.2.0/24'), IPNet.parse('fd00:10:244:2::/64')],
    },
    {
      publicKey: wgKeyFromBase64(P3),
      endpoint: { ip: IP.parse('2001:db8::13'), port: 51821 },
      replaceAllowedIPs: true,
      allowedIPs: [IPNet.parse('10.244.3.0/24')],
    },
  ],
};

describe('generic netlink family lookup', () => {
  it("encodes CTRL_CMD_GETFAMILY as wg(8) does, to the controller's id", () => {
    const r = genlGetFamily('wireguard');
    expect(r.type).toBe(GENL_ID_CTRL);
    expect(header(CTRL_REQUEST).type).toBe(GENL_ID_CTRL);
    expect(encode(r).toString('hex')).toBe(body(CTRL_REQUEST).toString('hex'));
  });

  it("decodes the controller's answer: wireguard's id, version and attribute count", () => {
    expect(decodeGenlFamily(body(CTRL_REPLY))).toEqual({ name: 'wireguard', id: 0x20, version: 1, hdrSize: 0, maxAttr: 8, mcastGroups: {} });
  });

  it('refuses a name the kernel could never hold', () => {
    expect(() => genlGetFamily('')).toThrow(/invalid generic netlink family name/);
    expect(() => genlGetFamily('a-name-longer-than-15')).toThrow(/1 to 15 printable characters/);
  });
});

describe('WG_CMD_SET_DEVICE', () => {
  it("is byte for byte what `wg set` sends: device settings, then each peer in wg(8)'s attribute order", () => {
    const [r, ...more] = requests.wgSetDevice(RECORDED_SET);
    expect(more).toEqual([]);
    expect(r!.genlFamily).toBe('wireguard');
    expect(header(SET)).toEqual({ type: 0x20, flags: 0x5 }); // the family's id; the socket adds REQUEST and ACK
    expect(encode(r!).toString('hex')).toBe(body(SET).toString('hex'));
  });

  it('removes a peer by its public key as `wg set … peer P3 remove` does', () => {
    const r = requests.wgPeerSet('wg0', { publicKey: wgKeyFromBase64(P3), remove: true });
    expect(encode(r).toString('hex')).toBe(body(REMOVE).toString('hex'));
    expect(r.op).toBe(`wg set wg0 peer ${P3} remove`);
  });

  it('says what it does in wg(8) words, keys hidden', () => {
    const [r] = requests.wgSetDevice({ ...RECORDED_SET, device: 7 });
    expect(r!.op).toBe(
      `wg set #7 private-key (hidden) listen-port 51820 fwmark 16 peer ${P2} preshared-key (hidden) endpoint 192.0.2.12:51820 persistent-keepalive 25 ` +
        `allowed-ips 10.244.2.0/24,fd00:10:244:2::/64 peer ${P3} endpoint [2001:db8::13]:51821 allowed-ips 10.244.3.0/24`,
    );
    expect(r!.op).not.toContain(K1);
    expect(r!.op).not.toContain(PSK);
  });

  it('refuses what the kernel would refuse, before sending anything', () => {
    expect(() => requests.wgSetDevice({ device: 'wg0', listenPort: 70000 })).toThrow(/invalid listen port 70000/);
    expect(() => requests.wgSetDevice({ device: 'no such name, too long', listenPort: 1 })).toThrow(/invalid device name/);
    expect(() => requests.wgPeerSet(3, { publicKey: new Uint8Array(31) })).toThrow(/32 bytes, not 31/);
    expect(() => requests.wgPeerSet(3, { publicKey: wgKeyFromBase64(P2), endpoint: { ip: IP.parse('192.0.2.1'), port: 0 } })).toThrow(/endpoint port 0/);
  });
});

describe('WG_CMD_SET_DEVICE split across messages', () => {
  const key = (i: number) => {
    const k = Buffer.alloc(32);
    k.writeUInt32BE(i + 1);
    return k;
  };
  const peers = (n: number) =>
    Array.from({ length: n }, (_, i) => ({
      publicKey: key(i),
      endpoint: { ip: IP.parse(`198.18.${i >> 8}.${i & 255}`), port: 51820 },
      replaceAllowedIPs: true,
      allowedIPs: [IPNet.parse(`10.${(i >> 8) + 1}.${i & 255}.0/24`), IPNet.parse(`fd00:10:244:${i.toString(16)}::/64`)],
    }));
  const payloads = (rs: NetlinkRequest[]) => rs.map((r) => encode(r));

  it('keeps every message within a page; device settings and REPLACE_PEERS only in the first; nothing lost', () => {
    const config: WgDeviceConfig = { device: 9, privateKey: WgSecret.fromBase64(K1), listenPort: 51820, replacePeers: true, peers: peers(1000) };
    const rs = requests.wgSetDevice(config);
    expect(rs.length).toBeGreaterThan(1);
    const bodies = payloads(rs);
    for (const b of bodies) expect(NLMSG_HDRLEN + b.length).toBeLessThanOrEqual(WG_SET_MESSAGE_BYTES);
    for (const b of bodies) expect(b[0]).toBe(WG_CMD_SET_DEVICE);
    expect(rs.map((r) => r.op.includes('replace-peers'))).toEqual(rs.map((_, i) => i === 0));
    expect(rs.map((r) => r.op.includes('private-key'))).toEqual(rs.map((_, i) => i === 0));
    // What the kernel ends up with: decoding the fragments as one device gives back every peer, whole.
    const dev = decodeWgDevice(bodies);
    expect(dev.peers.map((p) => wgKeyToBase64(p.publicKey))).toEqual(config.peers!.map((p) => wgKeyToBase64(p.publicKey)));
    expect(dev.peers.map((p) => p.allowedIPs.map(String))).toEqual(config.peers!.map((p) => p.allowedIPs!.map(String)));
    expect(dev.peers.map((p) => p.endpoint && `${p.endpoint.ip}:${p.endpoint.port}`)).toEqual(config.peers!.map((p) => `${p.endpoint!.ip}:51820`));
  });

  it("continues one peer's allowed IPs in the next message, replacing them only in the first", () => {
    const ips = Array.from({ length: 300 }, (_, i) => IPNet.parse(`10.${i >> 8}.${i & 255}.0/24`));
    const rs = requests.wgSetDevice({ device: 'wg0', peers: [{ publicKey: key(1), persistentKeepalive: 25, replaceAllowedIPs: true, allowedIPs: ips }] });
    expect(rs.length).toBeGreaterThan(1);
    const parts = rs.map((r) => r.what!.value as WgDeviceConfig);
    expect(parts.map((p) => p.peers![0]!.replaceAllowedIPs === true)).toEqual(rs.map((_, i) => i === 0));
    expect(parts.map((p) => p.peers![0]!.persistentKeepalive)).toEqual(rs.map((_, i) => (i === 0 ? 25 : undefined)));
    const dev = decodeWgDevice(payloads(rs));
    expect(dev.peers).toHaveLength(1);
    expect(dev.peers[0]!.allowedIPs.map(String)).toEqual(ips.map(String));
    expect(() => requests.wgPeerSet('wg0', { publicKey: key(1), allowedIPs: ips })).toThrow(/too many allowed IPs for one message/);
  });
});

describe('WG_CMD_GET_DEVICE', () => {
  it('asks for one device by name as `wg show` does', () => {
    const w = new MessageWriter();
    encodeWgGetDevice(w, 'wg0');
    expect(w.toBuffer().toString('hex')).toBe(body(GET_REQUEST).toString('hex'));
  });

  it("decodes the kernel's reply: keys, port, fwmark, and each peer's endpoint, keepalive, PSK and allowed IPs", () => {
    const [reply, done] = messages(hex(GET_REPLY));
    expect(reply!.type).toBe(0x20);
    expect(done!.type).toBe(NLMSG_DONE);
    const dev = decodeWgDevice([reply!.payload]);
    expect({ name: dev.name, listenPort: dev.listenPort, fwmark: dev.fwmark, publicKey: wgKeyToBase64(dev.publicKey!) }).toEqual({
      name: 'wg0',
      listenPort: 51820,
      fwmark: 16,
      publicKey: PUB1,
    });
    expect(dev.ifindex).toBeGreaterThan(0);
    expect(dev.privateKey!.equals(WgSecret.fromBase64(K1))).toBe(true);
    expect(
      dev.peers.map((p) => ({
        key: wgKeyToBase64(p.publicKey),
        psk: p.presharedKey?.equals(WgSecret.fromBase64(PSK)) ?? false,
        endpoint: `${p.endpoint!.ip}:${p.endpoint!.port}`,
        keepalive: p.persistentKeepalive,
        allowedIPs: p.allowedIPs.map(String),
        handshake: p.latestHandshake,
        rx: p.rxBytes,
        tx: p.txBytes,
        version: p.protocolVersion,
      })),
    ).toEqual([
      {
        key: P2,
        psk: true,
        endpoint: '192.0.2.12:51820',
        keepalive: 25,
        allowedIPs: ['10.244.2.0/24', 'fd00:10:244:2::/64'],
        handshake: undefined,
        rx: 0n,
        tx: 0n,
        version: 1,
      },
      { key: P3, psk: false, endpoint: '2001:db8::13:51821', keepalive: 0, allowedIPs: ['10.244.3.0/24'], handshake: undefined, rx: 0n, tx: 0n, version: 1 },
    ]);
  });

  it('reads a handshake time and byte counts', () => {
    const [reply] = messages(hex(GET_REPLY));
    const p = Buffer.from(reply!.payload);
    // Patch the first peer's LAST_HANDSHAKE_TIME (type 6, 16 bytes) and RX/TX_BYTES (7, 8) in place.
    const put = (type: number, value: Buffer) => {
      const at = findAttr(p, type);
      value.copy(p, at);
    };
    const ts = Buffer.alloc(16);
    ts.writeBigInt64LE(1_700_000_000n, 0);
    ts.writeBigInt64LE(250_000_000n, 8);
    put(6, ts);
    const u64 = (v: bigint) => {
      const b = Buffer.alloc(8);
      b.writeBigUInt64LE(v);
      return b;
    };
    put(7, u64(123_456n));
    put(8, u64(2n ** 40n));
    const peer = decodeWgDevice([p]).peers[0]!;
    expect(peer.latestHandshake?.toISOString()).toBe('2023-11-14T22:13:20.250Z');
    expect([peer.rxBytes, peer.txBytes]).toEqual([123_456n, 2n ** 40n]);
  });
});

/** The payload offset of the first attribute of `type` inside the first peer (a test helper, not a parser). */
function findAttr(payload: Buffer, type: number): number {
  // the first peer's public key P2 is unique in the message; its attributes follow it
  const start = payload.indexOf(wgKeyFromBase64(P2)) + 32;
  for (let off = start; off + 4 <= payload.length;) {
    const len = payload.readUInt16LE(off);
    if ((payload.readUInt16LE(off + 2) & 0x3fff) === type) return off + 4;
    off += (len + 3) & ~3;
  }
  throw new Error(`no attribute ${type}`);
}

describe('WireGuard keys', () => {
  it('reads and writes wg(8) text form, and refuses anything else without quoting it', () => {
    expect(wgKeyToBase64(wgKeyFromBase64(` ${P2}\n`))).toBe(P2);
    for (const bad of ['', 'abc', P2.slice(1), `${P2.slice(0, 42)}B=`, `${P2}A`]) {
      let message = '';
      try {
        wgKeyFromBase64(bad, 'private key');
      } catch (err) {
        message = (err as Error).message;
      }
      expect(message).toMatch(/^the private key is not a WireGuard key: 44 characters of base64 \(32 bytes\) expected, found \d+ characters$/);
    }
  });

  it('never shows a secret key: not as text, JSON, or through util.inspect', () => {
    const s = WgSecret.fromBase64(K1);
    const shown = [String(s), `${s}`, JSON.stringify({ s }), inspect({ s }), inspect(s, { showHidden: true, depth: 5 })].join(' ');
    expect(shown).not.toContain(K1);
    expect(shown).not.toContain(s.bytes().toString('hex'));
    expect(shown).toContain('(hidden)');
    expect(s.toBase64()).toBe(K1);
  });
});
