// wireguard: the generic netlink library against a kernel with WireGuard, then 3 nodes with pods on the
// embedded store, dual stack, first in separate mode and then in auto mode, all in one topology. This host's
// kernel has no WireGuard, so the suite runs inside the nested kernel (test/vm), where every step is many
// times slower than on a host: one topology, reused from case to case in order.
import { jest } from '@jest/globals';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { IP, IPNet } from '@flannel-ts/core';
import { makeSubnetKey, parseSubnetKey } from '@flannel-ts/core/internal';
import { EmbeddedRegistry } from '@flannel-ts/core/internal/embedded';
import { NetlinkHandle, requests, WgSecret, wgKeyToBase64 } from '@flannel-ts/core/netlink';
import { RecordingLogger } from '@flannel-ts/core/testing';
import { execIn, ipIn, ipJson, sh } from '../harness/netns.js';
import { startProcess, waitForOutput, type Started } from '../harness/processes.js';
import { stopCapture } from '../harness/capture.js';
import { snapshotFlanneld, type FlanneldSnapshot } from '../harness/flanneld-snapshot.js';
import { HEALTHZ_PORT, tearDown, Topology, type Pod, type TopologyNode } from '../harness/topology.js';
import { DEADLINE, waitFor } from '../harness/wait.js';
import { describeWithKernelFeature } from '../vm/describe-with-kernel.js';

jest.setTimeout(DEADLINE.testMs);
/** Per test inside the nested kernel (see ipip.test.ts): emulation is 20-100 times slower than a host. */
const SLOW = 900_000;
/** A wait for the kernel or the cluster to catch up, under emulation. */
const CATCH_UP = 120_000;
/** flanneld saying it is ready, under emulation on a busy machine. */
const READY = 300_000;
// Test keys and PSK (wg genkey / wg genpsk); the nodes make their own private keys.
const PSK = 'OvXZng3d+sk6F28sC5Z/sdFEQLluskZb5KXLbKhbUBE=';
const K1 = 'YB/2WofqO69W6t66B46zlqpb6EXlCVmpl5H+3K7zIXY=';
const PUB1 = 'veHUt9l5AF0hInVjwKoMtpMa2zy4+maQ+g1plT9sXwE=';

const topologies: Topology[] = [];
/** flanneld as built when the suite started: a rebuild of the checkout during a long VM run must not matter. */
let built: FlanneldSnapshot | undefined;
afterAll(async () => {
  await tearDown(topologies);
  built?.remove();
}, SLOW);

interface StoredLease {
  subnet: string;
  ipv6Subnet?: string;
  publicIP: string;
  publicIPv6?: string;
  data: { PublicKey: string; Port: number };
  v6data?: { PublicKey: string; Port: number };
}

/** A `wg show … dump` peer line's fields (after the device name): key, psk, endpoint, allowed ips (sorted), keepalive. */
function peerLine(fields: string[]): string {
  const [key, psk, endpoint, ips, , , , keepalive] = fields;
  return `${key} psk ${psk === PSK ? 'PSK' : psk} ${endpoint} ${ips!.split(',').sort().join(',')} keepalive ${keepalive}`;
}

/** `wg show DEV dump`'s peer lines, as `peerLine` puts them, sorted. */
function wgPeers(n: TopologyNode, dev: string): string[] {
  const out = execIn(n.ns, 'wg', 'show', dev, 'dump').trim().split('\n').slice(1);
  return out
    .filter((l) => l !== '')
    .map((l) => peerLine(l.split('\t')))
    .sort();
}

/** Every WireGuard device of the node and its sorted peer lines, from one `wg show all dump`. */
function wgDevices(n: TopologyNode): Map<string, string[]> {
  const devices = new Map<string, string[]>();
  for (const line of execIn(n.ns, 'wg', 'show', 'all', 'dump').split('\n')) {
    const [dev, ...fields] = line.split('\t');
    if (!dev) continue;
    const peers = devices.get(dev) ?? [];
    devices.set(dev, peers);
    if (fields.length === 8) peers.push(peerLine(fields)); // the device's own line has 4 fields
  }
  for (const peers of devices.values()) peers.sort();
  return devices;
}

const hasLink = (n: TopologyNode, name: string) => ipJson<{ ifname: string }[]>(n.ns, 'link', 'show').some((l) => l.ifname === name);

describeWithKernelFeature('wireguard', fileURLToPath(import.meta.url), 'wireguard backend', () => {
  describe('generic netlink against the kernel', () => {
    it(
      'sets 1,000 peers in messages the kernel accepts, reads them back, and agrees with wg(8)',
      async () => {
        const t = await Topology.create({ nodes: 1, store: 'embedded', tag: 'wgn', netConf: {} });
        topologies.push(t);
        const ns = t.nodes[0]!.ns;
        const h = NetlinkHandle.open({ netns: ns });
        try {
          expect(await h.genlFamily('wireguard')).toMatchObject({ name: 'wireguard', version: 1 });
          const link = await h.linkAdd({ kind: 'wireguard', name: 'wgt0', mtu: 1420 });
          expect(link.kind).toBe('wireguard');
          const key = (i: number) => {
            const k = Buffer.alloc(32);
            k.writeUInt32BE(i + 1);
            return k;
          };
          const peers = Array.from({ length: 1000 }, (_, i) => ({
            publicKey: key(i),
            endpoint: { ip: IP.parse(`198.18.${i >> 8}.${i & 255}`), port: 51820 },
            persistentKeepalive: 25,
            replaceAllowedIPs: true,
            allowedIPs: [IPNet.parse(`10.${(i >> 8) + 1}.${i & 255}.0/24`), IPNet.parse(`fd00:10:244:${i.toString(16)}::/64`)],
          }));
          expect(requests.wgSetDevice({ device: 'wgt0', replacePeers: true, peers }).length).toBeGreaterThan(1);
          await h.wgSetDevice({ device: link.index, privateKey: WgSecret.fromBase64(K1), listenPort: 51830, replacePeers: true, peers });
          const dev = await h.wgGetDevice('wgt0');
          expect([dev.ifindex, dev.listenPort, wgKeyToBase64(dev.publicKey!), dev.peers.length]).toEqual([link.index, 51830, PUB1, 1000]);
          expect(
            dev.peers.map((p) => `${wgKeyToBase64(p.publicKey)} ${p.endpoint!.ip}:${p.endpoint!.port} ${p.allowedIPs.join(',')} ${p.persistentKeepalive}`),
          ).toEqual(peers.map((p) => `${wgKeyToBase64(p.publicKey)} ${p.endpoint.ip}:51820 ${p.allowedIPs.join(',')} 25`));
          const dump = execIn(ns, 'wg', 'show', 'wgt0', 'dump').trim().split('\n');
          expect(dump[0]!.split('\t').slice(1, 3)).toEqual([PUB1, '51830']);
          expect(dump.slice(1).map((l) => l.split('\t').slice(0, 4).join(' '))).toEqual(
            peers.map((p) => `${wgKeyToBase64(p.publicKey)} (none) ${p.endpoint.ip}:51820 ${p.allowedIPs.join(',')}`),
          );
          // One batch of rtnetlink and generic requests; a removal by key; replace-peers empties the device.
          const results = await h.apply([requests.wgPeerSet(link.index, { publicKey: key(7), remove: true }), requests.linkSet(link.index, { up: true })]);
          expect(results).toEqual([undefined, undefined]);
          expect((await h.wgGetDevice(link.index)).peers).toHaveLength(999);
          await h.wgSetDevice({ device: 'wgt0', replacePeers: true });
          expect(execIn(ns, 'wg', 'show', 'wgt0', 'peers').trim()).toBe('');
        } finally {
          h.close();
        }
      },
      SLOW,
    );
  });

  describe('3 nodes, dual stack', () => {
    let t: Topology;
    /** Every flanneld process this suite started, and every private key the nodes had, for the look at their logs. */
    const started: Started[] = [];
    const privateKeys = new Set<string>();
    const keyFile = (n: TopologyNode) => join(t.dir, `${n.name}.wgkey`);
    const netConf = (mode: string) => ({
      Network: '10.244.0.0/16',
      EnableIPv6: true,
      IPv6Network: 'fd00:10:244::/56',
      Backend: { Type: 'wireguard', Mode: mode, PSK, PersistentKeepaliveInterval: 25 },
    });

    /** flanneld with the node's own key file (WIREGUARD_KEY_FILE), at debug level, until it is ready. */
    async function startNode(n: TopologyNode): Promise<void> {
      // --kernel-resync: WireGuard says nothing of a peer removed with `wg set`; the periodic comparison finds it.
      const p = startProcess('node', [built!.flanneld, ...t.flanneldArgs(n), '--log-level=debug', '--kernel-resync=5'], {
        netns: n.ns,
        env: { ...process.env, WIREGUARD_KEY_FILE: keyFile(n) },
      });
      n.flanneld = p;
      started.push(p);
      await waitForOutput(p, (o) => o.includes('flannel is ready'), READY, `flanneld on ${n.name}`);
      privateKeys.add(readFileSync(keyFile(n), 'utf8').trim());
    }

    /** Each node's lease from the store itself. */
    async function leases(): Promise<Map<string, StoredLease>> {
      const registry = new EmbeddedRegistry(t.storePath, t.netConfPath, new RecordingLogger());
      try {
        const out = new Map<string, StoredLease>();
        for (const e of (await registry.list()).entries) {
          const k = parseSubnetKey(e.key);
          if ('error' in k) throw new Error(`${e.key}: ${k.error}`);
          const v = JSON.parse(e.value) as Record<string, unknown>;
          const lease: StoredLease = {
            subnet: String(k.subnet),
            publicIP: v.PublicIP as string,
            data: v.BackendData as StoredLease['data'],
            ...(k.ipv6Subnet ? { ipv6Subnet: String(k.ipv6Subnet), publicIPv6: v.PublicIPv6 as string, v6data: v.BackendV6Data as StoredLease['data'] } : {}),
          };
          out.set(lease.publicIP, lease);
        }
        return out;
      } finally {
        await registry.close();
      }
    }

    /** What `wgPeers` must show on `n`'s device `dev`, from the other nodes' leases (`all`, from `leases()`). */
    function expectedPeers(all: Map<string, StoredLease>, n: TopologyNode, dev: 'flannel-wg' | 'flannel-wg-v6', mode: 'separate' | 'auto'): string[] {
      return [...all.values()]
        .filter((l) => l.publicIP !== n.ip)
        .map((l) => {
          if (mode === 'auto') return `${l.data.PublicKey} psk PSK ${l.publicIP}:${l.data.Port} ${[l.subnet, l.ipv6Subnet!].sort().join(',')} keepalive 25`;
          if (dev === 'flannel-wg') return `${l.data.PublicKey} psk PSK ${l.publicIP}:${l.data.Port} ${l.subnet} keepalive 25`;
          return `${l.v6data!.PublicKey} psk PSK [${l.publicIPv6}]:${l.v6data!.Port} ${l.ipv6Subnet} keepalive 25`;
        })
        .sort();
    }

    /**
     * Waits until every running node's devices hold exactly the peers the leases ask for. Each look reads the
     * store once and runs one `wg show all dump` per node, every half second: under emulation the guest has
     * few CPUs, and a heavier or faster poll would take them from the flanneld processes being waited for.
     */
    async function converged(mode: 'separate' | 'auto'): Promise<void> {
      const devs = mode === 'separate' ? (['flannel-wg', 'flannel-wg-v6'] as const) : (['flannel-wg'] as const);
      const differences = async () => {
        const all = await leases();
        const out: string[] = [];
        for (const n of t.nodes.filter((x) => t.isRunning(x))) {
          const devices = wgDevices(n);
          for (const d of devs) {
            const want = expectedPeers(all, n, d, mode).join('; ');
            const have = devices.get(d)?.join('; ') ?? 'no device';
            if (want !== have) out.push(`${n.name} ${d}: has [${have}], leases say [${want}]`);
          }
        }
        return out;
      };
      if ((await waitFor(async () => (await differences()).length === 0, CATCH_UP, 500)) === false) throw new Error((await differences()).join('\n'));
    }

    /** The pod's addresses: IPv4 and IPv6. */
    const podIPs = (p: Pod) => {
      const addrs = ipJson<{ addr_info: { family: string; local: string; scope: string }[] }[]>(p.ns, 'addr', 'show', 'dev', 'eth0')[0]!.addr_info;
      return { v4: addrs.find((a) => a.family === 'inet')!.local, v6: addrs.find((a) => a.family === 'inet6' && a.scope === 'global')!.local };
    };
    const ping = (from: Pod, to: string) => {
      try {
        execIn(from.ns, 'ping', '-c1', '-q', '-W2', to);
        return true;
      } catch {
        return false;
      }
    };
    /** Every ordered pair of pods on different nodes pings, over IPv4 and IPv6 (retried while IPv6 DAD or a handshake settles). */
    async function pingMatrix(): Promise<string[]> {
      const pods = t.nodes.flatMap((n) => n.pods);
      const ips = new Map(pods.map((p) => [p, podIPs(p)]));
      const failed: string[] = [];
      for (const from of pods) {
        for (const to of pods) {
          if (from === to) continue;
          for (const ip of Object.values(ips.get(to)!)) {
            if (!(await waitFor(() => ping(from, ip), CATCH_UP / 4, 100))) failed.push(`${ips.get(from)!.v4} -> ${ip}`);
          }
        }
      }
      return failed;
    }

    beforeAll(async () => {
      built = snapshotFlanneld();
      t = await Topology.create({ nodes: 3, store: 'embedded', tag: 'wg', ipv6: true, netConf: netConf('separate') });
      topologies.push(t);
      sh('modprobe', ['br_netfilter']);
      await Promise.all(t.nodes.map(startNode));
      for (const n of t.nodes) t.addPod(n);
    }, SLOW);

    it(
      'separate mode: every pod pair pings over both families, the underlay carries only WireGuard, and `wg show` is what the leases say',
      async () => {
        await converged('separate');
        for (const n of t.nodes) {
          const dev = ipJson<{ mtu: number; flags: string[]; linkinfo: { info_kind: string } }[]>(n.ns, '-d', 'link', 'show', 'flannel-wg')[0]!;
          const dev6 = ipJson<{ mtu: number; flags: string[] }[]>(n.ns, 'link', 'show', 'flannel-wg-v6')[0]!;
          expect([dev.linkinfo.info_kind, dev.mtu, dev6.mtu, dev.flags.includes('UP'), dev6.flags.includes('UP')]).toEqual([
            'wireguard',
            1440,
            1420,
            true,
            true,
          ]);
          expect(t.subnetEnv(n).FLANNEL_MTU).toBe('1420');
          const own = (await leases()).get(n.ip)!;
          const pub = sh('wg', ['pubkey'], { input: readFileSync(keyFile(n), 'utf8') }).trim();
          expect([own.data.PublicKey, own.data.Port, own.v6data!.PublicKey, own.v6data!.Port]).toEqual([pub, 51820, pub, 51821]);
          expect(execIn(n.ns, 'wg', 'show', 'flannel-wg', 'public-key').trim()).toBe(pub);
          expect(execIn(n.ns, 'wg', 'show', 'flannel-wg-v6', 'listen-port').trim()).toBe('51821');
          const routes = ipJson<{ dst: string; dev: string }[]>(n.ns, 'route', 'show', 'proto', '70').map((r) => `${r.dst} ${r.dev}`);
          const routes6 = ipJson<{ dst: string; dev: string }[]>(n.ns, '-6', 'route', 'show', 'proto', '70').map((r) => `${r.dst} ${r.dev}`);
          expect([routes, routes6]).toEqual([['10.244.0.0/16 flannel-wg'], ['fd00:10:244::/56 flannel-wg-v6']]);
        }

        // Everything the pods send crosses the underlay as UDP between the listen ports, nothing in the clear.
        const cap = startProcess('tcpdump', ['-n', '-t', '-q', '-l', '-i', 'br0', 'ip or ip6'], { netns: t.underlayNs });
        await waitForOutput(cap, (o) => o.includes('listening on'), CATCH_UP, 'tcpdump');
        const failed = await pingMatrix();
        expect(failed).toEqual([]);
        // SIGINT drops what is still in tcpdump's ring buffer, and under emulation the last ping's packets may be
        // there: wait until it has printed them (or the wait runs out and the count below says what it saw).
        const wireguard = /^IP6? (\S+)\.(5182[01]) > (\S+)\.(5182[01]): UDP/;
        const wgLines = (o: string): number => o.split('\n').filter((l) => wireguard.test(l)).length;
        await waitForOutput(cap, (o) => wgLines(o) >= 24, 20_000, '24 WireGuard packets in the capture').catch(() => undefined);
        await stopCapture(cap);
        const lines = cap.stdout().trim().split('\n');
        const neighbourDiscovery = /^IP6 \S+ > \S+: ICMP6, (neighbor|router|multicast listener)/;
        expect(lines.filter((l) => !wireguard.test(l) && !neighbourDiscovery.test(l))).toEqual([]);
        const nodeIPs = new Set(t.nodes.flatMap((n) => [n.ip, n.ip6!]));
        const udp = lines.map((l) => wireguard.exec(l)).filter((m): m is RegExpExecArray => m !== null);
        expect(udp.length).toBeGreaterThanOrEqual(24); // 12 pings at least, each way
        expect(udp.filter((m) => !nodeIPs.has(m[1]!) || !nodeIPs.has(m[3]!) || m[2] !== m[4])).toEqual([]);
        expect(new Set(udp.map((m) => m[2]))).toEqual(new Set(['51820', '51821']));
        expect(lines.filter((l) => /10\.244\.|fd00:10:244/.test(l))).toEqual([]);
      },
      SLOW,
    );

    it(
      'puts back a peer removed with `wg set … remove` at the periodic resync, and a deleted device at once with every peer',
      async () => {
        const [n1, n2] = t.nodes as [TopologyNode, TopologyNode];
        const key2 = (await leases()).get(n2.ip)!.data.PublicKey;
        let since = Date.now();
        execIn(n1.ns, 'wg', 'set', 'flannel-wg', 'peer', key2, 'remove');
        expect(wgPeers(n1, 'flannel-wg').some((p) => p.startsWith(key2))).toBe(false);
        await converged('separate');
        process.stderr.write(`[wireguard] a removed peer was back after ${Date.now() - since} ms (resync period 5 s)\n`);

        since = Date.now();
        const mark = n1.flanneld!.output().length;
        ipIn(n1.ns, 'link', 'del', 'flannel-wg');
        await converged('separate');
        process.stderr.write(`[wireguard] a deleted device was back with its peers after ${Date.now() - since} ms\n`);
        expect(ipJson<{ dst: string; dev: string }[]>(n1.ns, 'route', 'show', 'proto', '70').map((r) => `${r.dst} ${r.dev}`)).toEqual([
          '10.244.0.0/16 flannel-wg',
        ]);
        expect(await pingMatrix()).toEqual([]);
        expect(t.httpGet(n1, '/metrics')).toMatch(/^flannel_repairs_total\{kind="device"\} [1-9]/m);
        // What node 1 said meanwhile. Its log reaches us late under emulation: wait for it.
        const said = (o: string) =>
          o.slice(mark).includes('"msg":"wireguard device is not as we left it; recreating it and replaying every peer"') &&
          o.slice(mark).includes('"msg":"repairing kernel state"');
        await waitForOutput(n1.flanneld!, said, CATCH_UP, 'the repair in the log of node 1');
      },
      SLOW,
    );

    it(
      "shows each peer's handshake and bytes in /metrics and flannelctl status",
      async () => {
        const [n1, n2] = t.nodes as [TopologyNode, TopologyNode];
        const l2 = (await leases()).get(n2.ip)!;
        const metrics = t.httpGet(n1, '/metrics');
        const labels = `device="flannel-wg",peer="${l2.subnet}",public_key="${l2.data.PublicKey}"`;
        expect(Number(new RegExp(`^flannel_peer_receive_bytes_total\\{${escape(labels)}\\} (\\d+)$`, 'm').exec(metrics)?.[1])).toBeGreaterThan(0);
        expect(Number(new RegExp(`^flannel_peer_transmit_bytes_total\\{${escape(labels)}\\} (\\d+)$`, 'm').exec(metrics)?.[1])).toBeGreaterThan(0);
        const handshake = Number(new RegExp(`^flannel_peer_latest_handshake_timestamp_seconds\\{${escape(labels)}\\} (\\S+)$`, 'm').exec(metrics)?.[1]);
        expect(Math.abs(handshake - Date.now() / 1000)).toBeLessThan(3600);
        const status = execIn(n1.ns, 'node', built!.flannelctl, '--endpoint', `http://127.0.0.1:${HEALTHZ_PORT}`, 'status');
        expect(status).toContain('tunnel peers (4):');
        expect(status).toMatch(
          new RegExp(
            `flannel-wg +${escape(l2.subnet)} +${escape(`${n2.ip}:51820`)} +\\d{4}-\\d\\d-\\d\\dT\\S+Z +[\\d.]+ \\S+ +[\\d.]+ \\S+ +${escape(l2.data.PublicKey)}`,
          ),
        );
        expect(status).toMatch(/^devices +flannel-wg port 51820 MTU 1440 \(interface MTU 1500 − 60 \(IPv4 underlay\)\), flannel-wg-v6 port 51821 MTU 1420/m);
      },
      SLOW,
    );

    it(
      'a restarted node keeps its public key; a deleted key file gives a new key, which the peers take from its lease',
      async () => {
        const [n1, n2, n3] = t.nodes as [TopologyNode, TopologyNode, TopologyNode];
        // Both at once (each start is slow under emulation): node 1 keeps its key file, node 3 loses its own.
        const before = (await leases()).get(n1.ip)!.data.PublicKey;
        const old3 = (await leases()).get(n3.ip)!.data.PublicKey;
        await Promise.all([t.stopFlanneld(n1), t.stopFlanneld(n3)]);
        rmSync(keyFile(n3));
        await Promise.all([startNode(n1), startNode(n3)]);
        expect((await leases()).get(n1.ip)!.data.PublicKey).toBe(before);
        const new3 = (await leases()).get(n3.ip)!;
        expect(new3.data.PublicKey).not.toBe(old3);
        expect(new3.v6data!.PublicKey).toBe(new3.data.PublicKey);
        await converged('separate');
        for (const n of [n1, n2])
          expect(
            wgPeers(n, 'flannel-wg')
              .concat(wgPeers(n, 'flannel-wg-v6'))
              .filter((p) => p.startsWith(old3)),
          ).toEqual([]);
        expect(await pingMatrix()).toEqual([]);
      },
      SLOW,
    );

    it(
      'auto mode: one device per node with both families, every pod pair pings over both',
      async () => {
        writeFileSync(t.netConfPath, JSON.stringify(netConf('auto')));
        await Promise.all(t.nodes.map((n) => t.stopFlanneld(n)));
        await Promise.all(t.nodes.map(startNode));
        await converged('auto');
        for (const n of t.nodes) {
          expect(hasLink(n, 'flannel-wg-v6')).toBe(false);
          expect(ipJson<{ mtu: number }[]>(n.ns, 'link', 'show', 'flannel-wg')[0]!.mtu).toBe(1420); // auto may use IPv6: − 80
          const own = (await leases()).get(n.ip)!;
          expect([own.data.Port, own.v6data!.Port]).toEqual([51820, 51820]);
          const routes6 = ipJson<{ dst: string; dev: string }[]>(n.ns, '-6', 'route', 'show', 'proto', '70').map((r) => `${r.dst} ${r.dev}`);
          expect(routes6).toEqual(['fd00:10:244::/56 flannel-wg']);
        }
        expect(await pingMatrix()).toEqual([]);
      },
      SLOW,
    );

    it(
      'removes a peer whose lease is gone',
      async () => {
        const [, , n3] = t.nodes as [TopologyNode, TopologyNode, TopologyNode];
        const l3 = (await leases()).get(n3.ip)!;
        await t.stopFlanneld(n3);
        const registry = new EmbeddedRegistry(t.storePath, t.netConfPath, new RecordingLogger());
        try {
          await registry.delete(makeSubnetKey(IPNet.parse(l3.subnet), IPNet.parse(l3.ipv6Subnet!)));
        } finally {
          await registry.close();
        }
        await converged('auto');
        for (const n of t.nodes.slice(0, 2)) expect(wgPeers(n, 'flannel-wg').filter((p) => p.startsWith(l3.data.PublicKey))).toEqual([]);
      },
      SLOW,
    );

    it('never wrote a private key or the PSK into any log, at debug level', () => {
      expect([started.length, privateKeys.size]).toEqual([8, 4]); // 3 nodes, 2 restarts, 3 again for auto mode; node 3's key rotated
      // Each ran at debug level (its first line echoes the options it parsed), and debug lines were written: one
      // that lived past a periodic resync logs "kernel state matches" at debug; one restarted sooner may not have.
      for (const p of started) {
        const out = p.output();
        expect(out).toContain('"logLevel":"debug"');
        for (const secret of [PSK, ...privateKeys]) expect(out.includes(secret)).toBe(false);
      }
      expect(started.filter((p) => p.output().includes('"level":"debug"')).length).toBeGreaterThan(0);
    });
  });
});

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
