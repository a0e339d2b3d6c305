// The proxy's two directions on bytes captured with tcpdump -w between two flannel-ts udp nodes (a ping
// from pod 10.244.30.2 on 192.0.2.11 to pod 10.244.48.2 on 192.0.2.12, "flannel" as payload): what the
// kernel handed the sender's proxy on flannel0, the datagram on the underlay, and what the receiver's proxy
// wrote to its flannel0. There is no Go flannel binary on this machine to capture from; Go's format is the
// inner packet as the whole UDP payload, TTL − 1 at each proxy with Go's checksum arithmetic (checked
// against a transcription of Go's code for every checksum value in ipv4.test.ts), which is what these are.
import { Framer, IN_FOREIGN, IN_MALFORMED, IN_TTL_EXPIRED, IN_WRITE, OUT_MALFORMED, OUT_NO_ROUTE, OUT_SEND, OUT_TTL_EXPIRED } from './framing.js';
import { internetChecksum, ipv4ToNumber as ip } from './ipv4.js';
import { PeerTable, prefixMask } from './peer-table.js';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');

// Echo request as the sender's kernel routed it into flannel0 (TTL 63: 64 less the forward from cni0).
const REQUEST_FROM_TUN = hex(
  '4500 0034 afda 4000 3f01 2803 0af4 1e02 0af4 3002 0800 3a3f 2f08 0001 ed93 0f6b 0000 0000 e01c 0900 0000 0000 616e 6e65 6c66 6c61',
);
// The whole Ethernet frame on the receiver's eth0: IPv4, UDP 8285 → 8285, length 60, then the packet with TTL 62.
const REQUEST_FRAME = hex(
  '7216 81c8 5132 a27b 43fb a5ac 0800 4500 0050 fc2d 4000 4011 ba57 c000 020b c000 020c 205d 205d 003c 8465' +
    '4500 0034 afda 4000 3e01 2903 0af4 1e02 0af4 3002 0800 3a3f 2f08 0001 ed93 0f6b 0000 0000 e01c 0900 0000 0000 616e 6e65 6c66 6c61',
);
// What the receiver's proxy wrote into its flannel0 (TTL 61).
const REQUEST_TO_TUN = hex('4500 0034 afda 4000 3d01 2a03 0af4 1e02 0af4 3002 0800 3a3f 2f08 0001 ed93 0f6b 0000 0000 e01c 0900 0000 0000 616e 6e65 6c66 6c61');
// The reply, on the wire back (from 192.0.2.12 to .11).
const REPLY_FRAME = hex(
  'a27b 43fb a5ac 7216 81c8 5132 0800 4500 0050 9d29 4000 4011 195c c000 020c c000 020b 205d 205d 003c 8465' +
    '4500 0034 9dd6 0000 3e01 7b07 0af4 3002 0af4 1e02 0000 423f 2f08 0001 ed93 0f6b 0000 0000 e01c 0900 0000 0000 616e 6e65 6c66 6c61',
);

const sender = () => {
  const table = new PeerTable();
  table.set(ip('10.244.48.0'), 24, { ip: ip('192.0.2.12'), port: 8285 });
  return new Framer(table, ip('10.244.30.0'), ip('10.244.30.0'), prefixMask(24));
};
const receiver = () => {
  const table = new PeerTable();
  table.set(ip('10.244.30.0'), 24, { ip: ip('192.0.2.11'), port: 8285 });
  return new Framer(table, ip('10.244.48.0'), ip('10.244.48.0'), prefixMask(24));
};
/** The UDP payload of a captured frame, after checking that it is UDP 8285 → 8285 with nothing but the payload in it. */
function udpPayload(frame: Buffer): Buffer {
  expect(frame.readUInt16BE(12)).toBe(0x0800);
  const ipHeader = (frame[14]! & 0xf) * 4;
  expect(frame[14 + 9]).toBe(17);
  const udp = 14 + ipHeader;
  expect([frame.readUInt16BE(udp), frame.readUInt16BE(udp + 2)]).toEqual([8285, 8285]);
  expect(frame.readUInt16BE(udp + 4)).toBe(frame.length - udp);
  return frame.subarray(udp + 8);
}

describe('Go-format datagrams', () => {
  it('a packet read from flannel0 becomes, byte for byte, the captured datagram’s payload, sent to the peer’s PublicIP:8285', () => {
    const f = sender();
    const packet = Buffer.from(REQUEST_FROM_TUN);
    expect(f.outbound(packet, 0, packet.length)).toBe(OUT_SEND);
    expect(f.hop).toEqual({ ip: ip('192.0.2.12'), port: 8285 });
    expect(packet).toEqual(udpPayload(REQUEST_FRAME));
  });

  it('the captured datagram’s payload becomes, byte for byte, what the receiver wrote to flannel0', () => {
    const payload = Buffer.from(udpPayload(REQUEST_FRAME));
    expect(receiver().inbound(payload, 0, payload.length)).toBe(IN_WRITE);
    expect(payload).toEqual(REQUEST_TO_TUN);
    expect(internetChecksum(payload, 0, 20)).toBe(0);
  });

  it('round-trips: the reply datagram is taken by the first node and goes back out the same way', () => {
    const reply = Buffer.from(udpPayload(REPLY_FRAME));
    expect(sender().inbound(reply, 0, reply.length)).toBe(IN_WRITE);
    expect(reply[8]).toBe(0x3d);
    expect(internetChecksum(reply, 0, 20)).toBe(0);
    // Back into a datagram from the receiver's side: the same bytes a Go node would send, TTL one less again.
    const again = Buffer.from(reply);
    expect(receiver().outbound(again, 0, again.length)).toBe(OUT_SEND);
    expect(again[8]).toBe(0x3c);
    expect(again.subarray(12)).toEqual(reply.subarray(12));
    expect(internetChecksum(again, 0, 20)).toBe(0);
  });
});

describe('Framer', () => {
  it('answers a packet for no known subnet with an ICMP net-unreachable from flannel0, and leaves the packet alone', () => {
    const f = sender();
    const packet = Buffer.from(REQUEST_FROM_TUN);
    packet.writeUInt32BE(ip('10.244.250.7'), 16);
    packet.writeUInt16BE(0, 10);
    packet.writeUInt16BE(internetChecksum(packet, 0, 20), 10);
    const before = Buffer.from(packet);
    expect(f.outbound(packet, 0, packet.length)).toBe(OUT_NO_ROUTE);
    expect(packet).toEqual(before);
    const icmp = f.icmp.subarray(0, f.icmpLength);
    expect(icmp.readUInt32BE(12)).toBe(ip('10.244.30.0'));
    expect(icmp.readUInt32BE(16)).toBe(ip('10.244.30.2'));
    expect([icmp[20], icmp[21]]).toEqual([3, 0]);
  });

  it('drops what is not IPv4, or has run out of TTL', () => {
    const f = sender();
    expect(f.outbound(Buffer.alloc(10), 0, 10)).toBe(OUT_MALFORMED);
    const v6 = Buffer.from(REQUEST_FROM_TUN);
    v6[0] = 0x60;
    expect(f.outbound(v6, 0, v6.length)).toBe(OUT_MALFORMED);
    const dying = Buffer.from(REQUEST_FROM_TUN);
    dying[8] = 1;
    expect(f.outbound(dying, 0, dying.length)).toBe(OUT_TTL_EXPIRED);
    const late = Buffer.from(udpPayload(REQUEST_FRAME));
    late[8] = 1;
    expect(receiver().inbound(late, 0, late.length)).toBe(IN_TTL_EXPIRED);
    expect(receiver().inbound(Buffer.alloc(30), 0, 30)).toBe(IN_MALFORMED);
  });

  it('writes to flannel0 only packets for our subnet that do not claim to come from it', () => {
    const forOthers = Buffer.from(udpPayload(REQUEST_FRAME));
    forOthers.writeUInt32BE(ip('10.244.49.2'), 16);
    expect(receiver().inbound(forOthers, 0, forOthers.length)).toBe(IN_FOREIGN);
    const posing = Buffer.from(udpPayload(REQUEST_FRAME));
    posing.writeUInt32BE(ip('10.244.48.1'), 12);
    expect(receiver().inbound(posing, 0, posing.length)).toBe(IN_FOREIGN);
  });
});
