// udp on etcd, 3 nodes on one L2 underlay, the real flanneld CLI in each node namespace, pods through the CNI
// plugin. The cases share one topology; beforeEach puts back what a case stopped, deleted or wrote.
import { closeSync, readFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { MessageChannel, Worker } from 'node:worker_threads';
import { jest } from '@jest/globals';
import { IP, IPNet } from '@flannel-ts/core/ip';
import { tunOpen } from '@flannel-ts/core/netlink';
import {
  CONTROL_FLAG,
  newCounterBuffer,
  openEventFd,
  openUdpSocket,
  QUEUE_STATE,
  readCounters,
  workerFile,
  type ProxyCommand,
  type ProxyInit,
  type ProxyNotice,
} from '@flannel-ts/udp';
import { createNetns, deleteNetns, execIn, ipIn, ipJson, sh } from '../harness/netns.js';
import { startProcess, stopProcess, waitForOutput } from '../harness/processes.js';
import { stopCapture } from '../harness/capture.js';
import { tearDown, Topology, type Pod, type TopologyNode } from '../harness/topology.js';
import { DEADLINE, waitFor } from '../harness/wait.js';

jest.setTimeout(DEADLINE.testMs);

const NETWORK = '10.244.0.0/16';
const SUBNETS = '/coreos.com/network/subnets/';
let topo: Topology;

interface LinkJson {
  ifname: string;
  ifindex: number;
  mtu: number;
  flags: string[];
  linkinfo?: { info_kind?: string; info_data?: { type?: string; pi?: boolean } };
}
interface AddrJson {
  addr_info: { local: string; prefixlen: number }[];
}
interface RouteJson {
  dst: string;
  dev: string;
  protocol?: string;
  scope?: string;
  gateway?: string;
}

const subnetOf = (n: TopologyNode) => topo.leaseSubnet(n);
const keyOf = (n: TopologyNode) => `${SUBNETS}${subnetOf(n).replace('/', '-')}`;
/** flannel0's address: the lease's network address. */
const tunIP = (n: TopologyNode) => subnetOf(n).split('/')[0]!;
const flannel0 = (n: TopologyNode): LinkJson | undefined => ipJson<LinkJson[]>(n.ns, '-d', 'link', 'show').find((l) => l.ifname === 'flannel0');
const networkRoute = (n: TopologyNode) => ipJson<RouteJson[]>(n.ns, 'route', 'show', NETWORK)[0];
const pod = (n: TopologyNode): Pod => n.pods[0]!;
const failedPings = () =>
  topo
    .pingMatrix()
    .filter((p) => !p.ok)
    .map((p) => `${p.from.ip} -> ${p.to.ip}`);

/** ping's own report, whether it got an answer or not. */
function pingOutput(from: Pod, to: string, ...args: string[]): { ok: boolean; out: string } {
  try {
    return { ok: true, out: execIn(from.ns, 'ping', '-c1', '-W2', ...args, to) };
  } catch (err) {
    return { ok: false, out: String((err as { stdout?: string }).stdout ?? err) };
  }
}

interface Captured {
  outer: { src: string; dst: string; proto: number; sport?: number; dport?: number; udpLength?: number };
  payload: Buffer;
}

const dotted = (b: Buffer, off: number) => [...b.subarray(off, off + 4)].join('.');

/** The IPv4 packets of an Ethernet pcap file (tcpdump -w), outer headers parsed, UDP payload kept. */
function readPcap(file: string): Captured[] {
  const b = readFileSync(file);
  const le = b.readUInt32LE(0) === 0xa1b2c3d4 || b.readUInt32LE(0) === 0xa1b23c4d;
  const u32 = (off: number) => (le ? b.readUInt32LE(off) : b.readUInt32BE(off));
  expect(u32(20)).toBe(1); // LINKTYPE_ETHERNET
  const out: Captured[] = [];
  for (let off = 24; off + 16 <= b.length;) {
    const len = u32(off + 8);
    const frame = b.subarray(off + 16, off + 16 + len);
    off += 16 + len;
    expect(frame.readUInt16BE(12)).toBe(0x0800);
    const ip = frame.subarray(14);
    const ihl = (ip[0]! & 0xf) * 4;
    const c: Captured = { outer: { src: dotted(ip, 12), dst: dotted(ip, 16), proto: ip[9]! }, payload: Buffer.alloc(0) };
    if (c.outer.proto === 17) {
      const udp = ip.subarray(ihl, ip.readUInt16BE(2));
      Object.assign(c.outer, { sport: udp.readUInt16BE(0), dport: udp.readUInt16BE(2), udpLength: udp.readUInt16BE(4) });
      c.payload = udp.subarray(8);
    }
    out.push(c);
  }
  return out;
}

/** RFC 1071 over an IPv4 header: 0 when its checksum is right. */
function headerChecksum(b: Buffer): number {
  let sum = 0;
  for (let i = 0; i < (b[0]! & 0xf) * 4; i += 2) sum += b.readUInt16BE(i);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

describe('udp with etcd, 3 nodes', () => {
  beforeAll(async () => {
    topo = await Topology.create({ nodes: 3, store: 'etcd', tag: 'udp', netConf: { Network: NETWORK, Backend: { Type: 'udp' } } });
    await topo.up();
  }, DEADLINE.setupMs);

  beforeEach(async () => {
    await topo.restore();
    const own = new Set(topo.nodes.map(keyOf));
    const keys = (await topo.etcdctl('get', '--keys-only', '--prefix', SUBNETS)).split('\n').filter(Boolean);
    for (const key of keys) if (!own.has(key)) await topo.etcdctl('del', key);
    // Every node forwards to every other one: the only sign of convergence a udp node gives is traffic.
    expect(await waitFor(() => failedPings().length === 0, DEADLINE.convergeMs, 100)).toBe(true);
  }, DEADLINE.setupMs);

  afterAll(() => tearDown([topo]));

  it('every pod pair pings', () => {
    expect(failedPings()).toEqual([]);
  });

  it('makes flannel0 as Go does: a TUN without packet information, MTU − 28, the lease address as /32, the network routed into it', async () => {
    for (const n of topo.nodes) {
      const link = flannel0(n)!;
      expect(link.linkinfo?.info_kind).toBe('tun');
      expect(link.linkinfo?.info_data).toMatchObject({ type: 'tun', pi: false });
      expect(link.mtu).toBe(1472);
      expect(link.flags).toContain('UP');
      const addrs = ipJson<AddrJson[]>(n.ns, '-4', 'addr', 'show', 'dev', 'flannel0')[0]!.addr_info.map((a) => `${a.local}/${a.prefixlen}`);
      expect(addrs).toEqual([`${tunIP(n)}/32`]);
      expect(networkRoute(n)).toMatchObject({ dst: NETWORK, dev: 'flannel0' });
      expect(networkRoute(n)!.gateway).toBeUndefined();
      expect(topo.subnetEnv(n).FLANNEL_MTU).toBe('1472');
    }
  });

  it('marks its lease BackendType "udp", without BackendData', async () => {
    const n = topo.nodes[0]!;
    expect(JSON.parse(await topo.etcdctl('get', '--print-value-only', keyOf(n)))).toEqual({ PublicIP: n.ip, PublicIPv6: null, BackendType: 'udp' });
  });

  it('answers a packet to a subnet no node holds with ICMP net-unreachable from flannel0', () => {
    const [n1] = topo.nodes as [TopologyNode];
    const r = pingOutput(pod(n1), '10.244.250.7');
    expect(r.ok).toBe(false);
    expect(r.out).toContain(`From ${tunIP(n1)} icmp_seq=1 Destination Net Unreachable`);
  });

  it('passes DF pings of MTU − 28 bytes, and not one byte more', () => {
    const [n1, n2] = topo.nodes as [TopologyNode, TopologyNode];
    const mtu = Number(topo.subnetEnv(n1).FLANNEL_MTU);
    expect(pingOutput(pod(n1), pod(n2).ip, '-M', 'do', '-s', String(mtu - 28)).ok).toBe(true);
    const tooBig = pingOutput(pod(n1), pod(n2).ip, '-M', 'do', '-s', String(mtu - 27));
    expect(tooBig.ok).toBe(false);
  });

  it('puts back flannel0 deleted by hand within 2 s, and traffic flows again at once', async () => {
    const [n1] = topo.nodes as [TopologyNode];
    const before = flannel0(n1)!.ifindex;
    const from = n1.flanneld!.output().length;
    const deleted = Date.now();
    sh('ip', ['-n', n1.ns, 'link', 'del', 'flannel0']);
    // flanneld says so once the proxy reads the new device's queue: from then on nothing may be lost.
    await waitForOutput(n1.flanneld!, (o) => o.slice(from).includes('flannel0 was not as we left it; put it back'), DEADLINE.convergeMs, 'flannel0 repair');
    expect(Date.now() - deleted).toBeLessThan(2000);
    expect(flannel0(n1)!.ifindex).not.toBe(before);
    expect(flannel0(n1)!.mtu).toBe(1472);
    expect(networkRoute(n1)?.dev).toBe('flannel0');
    // Every pair, each ping once: no retries, so a proxy left without a queue (or half of one) fails here.
    expect(failedPings()).toEqual([]);
  });

  it('puts back the route of the network deleted by hand', async () => {
    const n1 = topo.nodes[0]!;
    sh('ip', ['-n', n1.ns, 'route', 'del', NETWORK]);
    expect(await waitFor(() => networkRoute(n1)?.dev === 'flannel0', DEADLINE.convergeMs)).toBe(true);
  });

  it('keeps flannel0 across a restart of flanneld, and attaches to it again', async () => {
    const n1 = topo.nodes[0]!;
    const before = flannel0(n1)!.ifindex;
    await topo.stopFlanneld(n1);
    expect(flannel0(n1)?.ifindex).toBe(before);
    expect(networkRoute(n1)?.dev).toBe('flannel0');
    await topo.startFlanneld(n1);
    expect(flannel0(n1)?.ifindex).toBe(before);
    expect(await waitFor(() => failedPings().length === 0, DEADLINE.convergeMs, 100)).toBe(true);
  });

  it('puts nothing on the wire but UDP 8285 → 8285 whose whole payload is the inner IP packet, as a Go node expects', async () => {
    const [n1, n2] = topo.nodes as [TopologyNode, TopologyNode];
    const [p1, p2] = [pod(n1), pod(n2)];
    const file = join(topo.dir, 'udp-interop.pcap');
    // On a NIC, UDP GSO messages are cut into datagrams before the wire; a veth hands them on whole, so both
    // nodes' eth0 are told to cut them in software, and the capture shows what a wire (and a Go peer) gets.
    for (const n of [n1, n2]) execIn(n.ns, 'ethtool', '-K', 'eth0', 'tx-udp-segmentation', 'off');
    const server = startProcess('iperf3', ['-s', '-1', '-B', p2.ip], { netns: p2.ns });
    try {
      expect(await waitFor(() => execIn(p2.ns, 'ss', '-Hltn', 'sport = :5201').trim() !== '', DEADLINE.convergeMs)).toBe(true);
      const dump = startProcess('tcpdump', ['-n', '-U', '-i', 'eth0', '-w', file, 'ip', 'and', 'host', n1.ip], { netns: n2.ns });
      await waitForOutput(dump, (o) => o.includes('listening on'), DEADLINE.convergeMs, 'tcpdump start');
      execIn(p1.ns, 'ping', '-c3', '-i0.2', '-W2', p2.ip);
      execIn(p2.ns, 'ping', '-c3', '-i0.2', '-W2', p1.ip);
      execIn(p1.ns, 'iperf3', '-c', p2.ip, '-n', '2M');
      await stopCapture(dump);
    } finally {
      await stopProcess(server.child, 2000);
      for (const n of [n1, n2]) execIn(n.ns, 'ethtool', '-K', 'eth0', 'tx-udp-segmentation', 'on');
    }
    const packets = readPcap(file);
    // Each inner packet goes from the sending node's subnet to the receiving node's (a pod, or the node's
    // flannel0 address: without --ip-masq the CNI bridge masquerades pod traffic to other subnets).
    const subnetOfIp = new Map([
      [n1.ip, IPNet.parse(subnetOf(n1))],
      [n2.ip, IPNet.parse(subnetOf(n2))],
    ]);
    const kinds = new Map<string, number>();
    for (const { outer, payload } of packets) {
      expect(outer).toEqual({ src: outer.src, dst: outer.dst, proto: 17, sport: 8285, dport: 8285, udpLength: payload.length + 8 });
      expect(new Set([outer.src, outer.dst])).toEqual(new Set([n1.ip, n2.ip]));
      // The payload is one whole IPv4 packet, TTL 62 (64, less the sending node's kernel, less its proxy).
      expect(payload[0]).toBe(0x45);
      expect(payload.readUInt16BE(2)).toBe(payload.length);
      expect(payload.length).toBeLessThanOrEqual(1472);
      expect(headerChecksum(payload)).toBe(0);
      expect(payload[8]).toBe(62);
      expect(subnetOfIp.get(outer.src)!.contains(IP.parse(dotted(payload, 12)))).toBe(true);
      expect(subnetOfIp.get(outer.dst)!.contains(IP.parse(dotted(payload, 16)))).toBe(true);
      const kind = payload[9] === 1 ? `icmp ${payload[(payload[0]! & 0xf) * 4]}` : payload[9] === 6 ? 'tcp' : `proto ${payload[9]}`;
      kinds.set(kind, (kinds.get(kind) ?? 0) + 1);
    }
    expect(kinds.get('icmp 8')).toBeGreaterThanOrEqual(6);
    expect(kinds.get('icmp 0')).toBeGreaterThanOrEqual(6);
    expect(kinds.get('tcp')).toBeGreaterThan(100); // tcpdump may drop some of a burst; every one it kept is checked above
    expect([...kinds.keys()].sort()).toEqual(['icmp 0', 'icmp 8', 'tcp']);
  });

  it('talks to a Go node: a lease without BackendType is a peer, and Go-framed datagrams go both ways', async () => {
    const n1 = topo.nodes[0]!;
    const p1 = pod(n1);
    // A "Go node" at the store's address: Go's lease (no BackendType), then an echo request framed as Go
    // frames it (the bare IPv4 packet as the UDP payload, from :8285), and the answer it should get back.
    const goKey = `${SUBNETS}10.244.200.0-24`;
    await topo.etcdctl('put', goKey, JSON.stringify({ PublicIP: '192.0.2.250', PublicIPv6: null }));
    try {
      const script = `
        const dgram = require('node:dgram');
        const sum = (b) => { let s = 0; for (let i = 0; i < b.length; i += 2) s += b.readUInt16BE(i); while (s > 0xffff) s = (s & 0xffff) + (s >>> 16); return ~s & 0xffff; };
        const ip = Buffer.alloc(28);
        ip.writeUInt8(0x45, 0); ip.writeUInt16BE(28, 2); ip.writeUInt16BE(0x4000, 6); ip.writeUInt8(63, 8); ip.writeUInt8(1, 9);
        Buffer.from([10, 244, 200, 5]).copy(ip, 12); Buffer.from('${p1.ip}'.split('.').map(Number)).copy(ip, 16);
        ip.writeUInt16BE(sum(ip.subarray(0, 20)), 10);
        ip.writeUInt8(8, 20); ip.writeUInt16BE(0x4242, 24); ip.writeUInt16BE(7, 26); ip.writeUInt16BE(sum(ip.subarray(20)), 22);
        const s = dgram.createSocket('udp4');
        s.on('message', (m, r) => { console.log(JSON.stringify({ from: r.address + ':' + r.port, hex: m.toString('hex') })); process.exit(0); });
        s.bind(8285, '192.0.2.250', () => { const t = setInterval(() => s.send(ip, 8285, '${n1.ip}'), 200); setTimeout(() => { clearInterval(t); process.exit(3); }, ${DEADLINE.convergeMs}); });`;
      const got = JSON.parse(execIn(topo.etcdNs, 'node', '-e', script)) as { from: string; hex: string };
      expect(got.from).toBe(`${n1.ip}:8285`);
      const reply = Buffer.from(got.hex, 'hex');
      // The pod's echo reply, whole, as the datagram's payload: 64, less n1's kernel, less n1's proxy.
      expect(reply.readUInt16BE(2)).toBe(reply.length);
      expect([reply[0], reply[8], reply[9], reply[20]]).toEqual([0x45, 62, 1, 0]);
      expect(dotted(reply, 12)).toBe(p1.ip);
      expect(dotted(reply, 16)).toBe('10.244.200.5');
      expect([reply.readUInt16BE(24), reply.readUInt16BE(26)]).toEqual([0x4242, 7]);
      expect(headerChecksum(reply)).toBe(0);
    } finally {
      await topo.etcdctl('del', goKey);
    }
  });

  it('falls back to one datagram per message where the way to a peer refuses UDP GSO, and traffic goes on', async () => {
    const [n1, n2] = topo.nodes as [TopologyNode, TopologyNode];
    const [p1, p2] = [pod(n1), pod(n2)];
    // A path MTU below flannel0's + 28 (the underlay shrank under a running node): the kernel refuses GSO
    // messages of full-size packets (EINVAL), single datagrams are fragmented as Go's would be.
    ipIn(n1.ns, 'link', 'set', 'eth0', 'mtu', '1400');
    const server = startProcess('iperf3', ['-s', '-1', '-B', p2.ip], { netns: p2.ns });
    try {
      expect(await waitFor(() => execIn(p2.ns, 'ss', '-Hltn', 'sport = :5201').trim() !== '', DEADLINE.convergeMs)).toBe(true);
      const out = JSON.parse(execIn(p1.ns, 'iperf3', '-c', p2.ip, '-t', '2', '-J')) as { end: { sum_received: { bytes: number } } };
      expect(out.end.sum_received.bytes).toBeGreaterThan(1024 * 1024);
      await waitForOutput(n1.flanneld!, (o) => o.includes('UDP GSO refused'), DEADLINE.convergeMs, 'the GSO fallback warning');
    } finally {
      await stopProcess(server.child, 2000);
      ipIn(n1.ns, 'link', 'set', 'eth0', 'mtu', '1500');
    }
    expect(await waitFor(() => failedPings().length === 0, DEADLINE.convergeMs, 100)).toBe(true);
  });

  it('stops sending to a peer whose lease is gone: its subnet becomes unreachable and it receives nothing', async () => {
    const [n1, , n3] = topo.nodes as [TopologyNode, TopologyNode, TopologyNode];
    const target = pod(n3).ip;
    await topo.stopFlanneld(n3);
    await topo.etcdctl('del', keyOf(n3));
    expect(await waitFor(() => pingOutput(pod(n1), target).out.includes('Destination Net Unreachable'), DEADLINE.convergeMs, 100)).toBe(true);
    const dump = startProcess('tcpdump', ['-n', '-l', '-i', 'eth0', 'udp', 'port', '8285'], { netns: n3.ns });
    await waitForOutput(dump, (o) => o.includes('listening on'), DEADLINE.convergeMs, 'tcpdump start');
    for (let i = 0; i < 3; i++) expect(pingOutput(pod(n1), target).ok).toBe(false);
    await stopCapture(dump);
    // Counted by the kernel, not by tcpdump's reading: nothing matched the filter, read or not.
    expect(dump.output()).toMatch(/\b0 packets captured/);
    expect(dump.output()).toMatch(/\b0 packets received by filter/);
  });
});

describe('the udp proxy worker, handed a new flannel0 queue', () => {
  it('reads the new queue when the old one fails in the same wake-up that brings it', async () => {
    const ns = createNetns('udpq');
    const channel = new MessageChannel();
    const notices: ProxyNotice[] = [];
    channel.port1.on('message', (n: ProxyNotice) => notices.push(n));
    const control = new Int32Array(new SharedArrayBuffer(8));
    const counters = newCounterBuffer();
    const eventFd = openEventFd();
    let worker: Worker | undefined;
    try {
      // Two TUN devices in a namespace of our own: the worker starts on the first, the second stands for
      // flannel0 made again; what is routed into it must reach the worker.
      const old = tunOpen('tunold', { netns: ns, persist: true, nonBlocking: true });
      const next = tunOpen('tunnew', { netns: ns, persist: true, nonBlocking: true });
      ipIn(ns, 'addr', 'add', '10.99.0.1/32', 'dev', 'tunnew');
      ipIn(ns, 'link', 'set', 'tunnew', 'up');
      ipIn(ns, 'route', 'add', '10.98.0.0/16', 'dev', 'tunnew');
      const socket = openUdpSocket(0x7f000001, 0, 1 << 16);
      const init: ProxyInit = {
        tunFd: old.fd,
        udpFd: socket.fd,
        eventFd,
        port: channel.port2,
        counters,
        control: control.buffer as SharedArrayBuffer,
        ownNet: 0x0a630000,
        ownMask: 0xffff0000,
        tunIp: 0x0a630001,
        mtu: 1472,
        gso: false,
      };
      worker = new Worker(workerFile(), { workerData: init, transferList: [channel.port2] });
      expect(await waitFor(() => notices.some((n) => n.type === 'ready'), DEADLINE.readyMs)).toBe(true);
      // The handover as the control thread posts it, less its wake-up through the eventfd: the worker finds
      // it in the poll round that the old queue's POLLERR ends, as when flannel0's deletion and the control
      // thread's repair both land while the worker waits for a CPU. A worker that takes that POLLERR for the
      // new queue's closes the new queue, and reads nothing ever after.
      channel.port1.postMessage({ type: 'tun', fd: next.fd, gen: 2 } satisfies ProxyCommand);
      Atomics.store(control, CONTROL_FLAG, 1);
      ipIn(ns, 'link', 'del', 'tunold');
      expect(await waitFor(() => notices.some((n) => n.type === 'tun-attached' && n.gen === 2), DEADLINE.convergeMs)).toBe(true);
      const read = () => readCounters(new Float64Array(counters)).tunPackets;
      const pinged = await waitFor(
        () => {
          // No peer holds 10.98.0.0/16: the worker reads the echo request and answers net-unreachable, so ping fails.
          sh('ip', ['netns', 'exec', ns, 'sh', '-c', 'ping -c1 -W1 10.98.0.5 >/dev/null 2>&1 || true']);
          return read() > 0;
        },
        DEADLINE.convergeMs,
        100,
      );
      expect(pinged).toBe(true);
      expect(Atomics.load(control, QUEUE_STATE)).toBe(2);
      expect(notices.filter((n) => n.type === 'tun-lost')).toEqual([]);
    } finally {
      if (worker) {
        const exited = new Promise((resolve) => worker!.once('exit', resolve));
        channel.port1.postMessage({ type: 'stop' } satisfies ProxyCommand);
        Atomics.store(control, CONTROL_FLAG, 1);
        writeSync(eventFd, Buffer.from([1, 0, 0, 0, 0, 0, 0, 0]));
        await exited;
      }
      closeSync(eventFd);
      channel.port1.close();
      deleteNetns(ns);
    }
  });
});
