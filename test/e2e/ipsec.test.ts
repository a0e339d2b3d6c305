// ipsec: 2 nodes with pods on the embedded store, charon (strongSwan) on each, in one topology. This host's
// kernel has no ESP with AES-GCM, so the suite runs inside the nested kernel (test/vm), where every step is
// many times slower than on a host: one topology, reused from case to case in order. Each flanneld runs with
// a private /run (its own mount namespace), as charon's pid file (/var/run/charon.pid) allows one charon per
// /run; charon's config and VICI socket are in the node's folder of the topology (FLANNEL_IPSEC_DIR), where
// swanctl reaches them from outside.
import { jest } from '@jest/globals';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { IPNet } from '@flannel-ts/core';
import { makeSubnetKey } from '@flannel-ts/core/internal';
import { EmbeddedRegistry } from '@flannel-ts/core/internal/embedded';
import { RecordingLogger } from '@flannel-ts/core/testing';
import { execIn, ipIn, sh } from '../harness/netns.js';
import { startProcess, waitForOutput, type Started } from '../harness/processes.js';
import { stopCapture } from '../harness/capture.js';
import { snapshotFlanneld, type FlanneldSnapshot } from '../harness/flanneld-snapshot.js';
import { HEALTHZ_PORT, tearDown, Topology, type TopologyNode } from '../harness/topology.js';
import { DEADLINE, waitFor } from '../harness/wait.js';
import { describeWithKernelFeature } from '../vm/describe-with-kernel.js';

jest.setTimeout(DEADLINE.testMs);
/** Per test inside the nested kernel: emulation is 20-100 times slower than a host. */
const SLOW = 900_000;
/** A wait for the kernel, charon or the cluster to catch up, under emulation. */
const CATCH_UP = 180_000;
const READY = 300_000;
// A test PSK: 48 random bytes, hex encoded, as Go flannel's docs suggest.
const PSK = '5f1c2a7b9e04d3c8a6b1f0e2d4c7a9b3e8f1d2c5b7a0e3f6d9c2b5a8e1f4d7c0a3b6e9f2c5d8a1b4e7f0c3d6a9b2e5f8';

const topologies: Topology[] = [];
let built: FlanneldSnapshot | undefined;
afterAll(async () => {
  await tearDown(topologies);
  built?.remove();
}, SLOW);

/** `ip xfrm policy` of a node, one line per policy with a direction (charon's socket bypasses have none). */
function xfrmPolicies(n: TopologyNode): string[] {
  const text = ipIn(n.ns, 'xfrm', 'policy', 'show');
  return text
    .split(/\n(?=src )/)
    .map((p) => p.replace(/\s+/g, ' ').trim())
    .filter((p) => / dir (in|out|fwd) /.test(p))
    .map((p) => p.replace(/ (priority \d+|ptype main)/g, ''))
    .sort();
}

/** The three policies Go flannel installs on `n` for peer `p`. */
function expectedPolicies(t: Topology, n: TopologyNode, p: TopologyNode): string[] {
  const [ours, theirs] = [t.leaseSubnet(n), t.leaseSubnet(p)];
  return [
    `src ${theirs} dst ${ours} dir fwd tmpl src ${p.ip} dst ${n.ip} proto esp reqid 11 mode tunnel`,
    `src ${theirs} dst ${ours} dir in tmpl src ${p.ip} dst ${n.ip} proto esp reqid 11 mode tunnel`,
    `src ${ours} dst ${theirs} dir out tmpl src ${n.ip} dst ${p.ip} proto esp reqid 11 mode tunnel`,
  ].sort();
}

/** The pid of the charon flanneld started last, from its log. */
function charonPid(n: TopologyNode): number {
  const lines = n
    .flanneld!.output()
    .split('\n')
    .filter((l) => l.includes('"msg":"started charon"'));
  return (JSON.parse(lines[lines.length - 1]!) as { pid: number }).pid;
}

describeWithKernelFeature('ipsec', fileURLToPath(import.meta.url), 'ipsec backend', () => {
  let t: Topology;
  const started: Started[] = [];

  /** flanneld at debug level in its own mount namespace with a private /run, until it is ready. */
  async function startNode(n: TopologyNode): Promise<void> {
    // --ip-masq, as kube-flannel runs it: without it the CNI bridge masquerades pod traffic to the node's
    // address, which no policy matches (so it would leave in the clear, to the default gateway).
    const args = [built!.flanneld, ...t.flanneldArgs(n), '--ip-masq', '--log-level=debug', '--log-format=json'];
    const p = startProcess('unshare', ['-m', '--propagation', 'private', 'sh', '-c', 'mount -t tmpfs flannel-run /run && exec node "$@"', 'sh', ...args], {
      netns: n.ns,
      env: { ...process.env, FLANNEL_IPSEC_DIR: ipsecDir(n) },
    });
    n.flanneld = p;
    started.push(p);
    await waitForOutput(p, (o) => o.includes('flannel is ready'), READY, `flanneld on ${n.name}`);
  }

  const running = () => t.nodes.filter((n) => t.isRunning(n));
  /** Where the node's charon has its config and VICI socket. */
  const ipsecDir = (n: TopologyNode) => join(t.dir, `${n.name}-ipsec`);
  /** swanctl against the node's charon. */
  const swanctl = (n: TopologyNode, ...args: string[]) => execIn(n.ns, 'swanctl', ...args, '--uri', `unix://${join(ipsecDir(n), 'charon.vici')}`);

  /** Waits until every running node holds exactly the three policies per running peer. */
  async function converged(): Promise<void> {
    const differences = () =>
      running().flatMap((n) => {
        const want = running()
          .filter((p) => p !== n)
          .flatMap((p) => expectedPolicies(t, n, p))
          .sort();
        const have = xfrmPolicies(n);
        return want.join('\n') === have.join('\n') ? [] : [`${n.name} has\n  ${have.join('\n  ')}\nwants\n  ${want.join('\n  ')}`];
      });
    if ((await waitFor(() => differences().length === 0, CATCH_UP, 100)) === false) throw new Error(differences().join('\n'));
  }

  const ping = (from: { ns: string }, ip: string) => {
    try {
      execIn(from.ns, 'ping', '-c1', '-q', '-W2', ip);
      return true;
    } catch {
      return false;
    }
  };
  /** Every ordered pair of pods on different nodes, retried while the SAs come up; the pairs that never answered. */
  async function pingMatrix(timeoutMs = CATCH_UP): Promise<string[]> {
    const failed: string[] = [];
    for (const n of running())
      for (const p of running())
        for (const from of n.pods)
          for (const to of p.pods) if (n !== p && !(await waitFor(() => ping(from, to.ip), timeoutMs, 100))) failed.push(`${from.ip} -> ${to.ip}`);
    if (failed.length > 0) process.stderr.write(diagnostics());
    return failed;
  }

  /** What the nodes hold, for a failed ping: SAs, and charon's latest lines. */
  function diagnostics(): string {
    return running()
      .map((n) => {
        const charon = n
          .flanneld!.output()
          .split('\n')
          .filter((l) => l.includes('"charon":"') && !/\[(LIB|JOB|KNL)\]/.test(l))
          .slice(-25)
          .map((l) => (JSON.parse(l) as { charon: string }).charon);
        return `--- ${n.name}\n${ipIn(n.ns, 'xfrm', 'state', 'show')}\n${charon.join('\n')}\n`;
      })
      .join('');
  }

  beforeAll(async () => {
    built = snapshotFlanneld();
    t = await Topology.create({ nodes: 2, store: 'embedded', tag: 'ips', netConf: { Network: '10.244.0.0/16', Backend: { Type: 'ipsec', PSK } } });
    topologies.push(t);
    sh('modprobe', ['br_netfilter']);
    await Promise.all(t.nodes.map((n) => startNode(n)));
    for (const n of t.nodes) t.addPod(n);
  }, SLOW);

  it(
    'every pod pair pings; the underlay carries only IKE and ESP, no pod packet in the clear; exactly three policies per peer',
    async () => {
      await converged();
      for (const n of t.nodes) expect(t.subnetEnv(n).FLANNEL_MTU).toBe('1423');
      const cap = startProcess('tcpdump', ['-n', '-t', '-q', '-l', '-i', 'br0', 'ip'], { netns: t.underlayNs });
      await waitForOutput(cap, (o) => o.includes('listening on'), CATCH_UP, 'tcpdump');
      const since = Date.now();
      expect(await pingMatrix()).toEqual([]);
      process.stderr.write(`[ipsec] every pod pair answered ${Date.now() - since} ms after the first ping\n`);
      const esp = /^IP (\S+) > (\S+): ESP\(spi=0x[0-9a-f]+,seq=0x[0-9a-f]+\)/;
      const ike = /^IP (\S+)\.(500|4500) > (\S+)\.(500|4500): (UDP|isakmp)/;
      const espLines = (o: string) => o.split('\n').filter((l) => esp.test(l)).length;
      // SIGINT drops what is still in tcpdump's ring buffer: wait until it has printed the pings' packets.
      await waitForOutput(cap, (o) => espLines(o) >= 4, 20_000, '4 ESP packets in the capture').catch(() => undefined);
      await stopCapture(cap);
      const lines = cap.stdout().trim().split('\n');
      expect(lines.filter((l) => !esp.test(l) && !ike.test(l))).toEqual([]);
      expect(lines.filter((l) => /10\.244\./.test(l))).toEqual([]);
      const nodeIPs = new Set(t.nodes.map((n) => n.ip));
      const espPackets = lines.map((l) => esp.exec(l)).filter((m): m is RegExpExecArray => m !== null);
      expect(espPackets.length).toBeGreaterThanOrEqual(4); // a request and a reply per ordered pair
      expect(espPackets.filter((m) => !nodeIPs.has(m[1]!) || !nodeIPs.has(m[2]!))).toEqual([]);
      const [n1, n2] = t.nodes as [TopologyNode, TopologyNode];
      expect(swanctl(n1, '--list-conns')).toContain(`${n1.ip}-${t.leaseSubnet(n1)}-${t.leaseSubnet(n2)}-${n2.ip}: `);
    },
    SLOW,
  );

  it(
    'puts back a policy deleted by hand within 2 s',
    async () => {
      const [n1, n2] = t.nodes as [TopologyNode, TopologyNode];
      const mark = n1.flanneld!.output().length;
      const since = Date.now();
      ipIn(n1.ns, 'xfrm', 'policy', 'delete', 'src', t.leaseSubnet(n2), 'dst', t.leaseSubnet(n1), 'dir', 'fwd');
      // It may be back before `ip xfrm policy` can show it gone: the kernel's notice reaches flanneld at once.
      await waitFor(() => xfrmPolicies(n1).length === 3, 10_000, 20);
      const ms = Date.now() - since;
      process.stderr.write(`[ipsec] a policy deleted by hand was back after ${ms} ms\n`);
      expect(xfrmPolicies(n1)).toEqual(expectedPolicies(t, n1, n2));
      expect(ms).toBeLessThan(2000);
      // That it went, and why it came back: the engine's repair of that very key.
      const key = `xfrmpolicy fwd ${t.leaseSubnet(n2)} ${t.leaseSubnet(n1)} deleted`;
      await waitForOutput(
        n1.flanneld!,
        (o) => o.slice(mark).includes('"msg":"repairing kernel state"') && o.slice(mark).includes(key),
        CATCH_UP,
        'the repair in the log of node 1',
      );
      expect(await pingMatrix()).toEqual([]);
    },
    SLOW,
  );

  it(
    'starts charon again when it is killed, with every PSK and connection, and traffic works within 5 s',
    async () => {
      const [n1, n2] = t.nodes as [TopologyNode, TopologyNode];
      const old = charonPid(n1);
      const mark = n1.flanneld!.output().length;
      const killed = Date.now();
      process.kill(old, 'SIGKILL');
      expect(await pingMatrix(10_000)).toEqual([]);
      const traffic = Date.now() - killed;
      // When flanneld had the new charon with every connection: the time it logged, not when its log reached us.
      const proc = n1.flanneld!;
      const backLine = (o: string) =>
        o
          .slice(mark)
          .split('\n')
          .find((l) => l.includes('"msg":"charon is back"'));
      await waitForOutput(proc, (o) => backLine(o) !== undefined, CATCH_UP, 'charon back on node 1');
      const back = Date.parse((JSON.parse(backLine(proc.output())!) as { time: string }).time) - killed;
      process.stderr.write(`[ipsec] charon killed: a new one with every connection after ${back} ms; every pod pair pinging ${traffic} ms after the kill\n`);
      expect(charonPid(n1)).not.toBe(old);
      expect(swanctl(n1, '--list-conns')).toContain(`-${n2.ip}: `);
      // The new charon negotiates its own SAs with the peer, and traffic still flows.
      await waitFor(() => swanctl(n1, '--list-sas').includes('ESTABLISHED'), CATCH_UP, 200);
      expect(swanctl(n1, '--list-sas')).toContain('ESTABLISHED');
      expect(await pingMatrix(10_000)).toEqual([]);
      expect([back < 5000, traffic < 5000]).toEqual([true, true]);
    },
    SLOW,
  );

  it(
    "shows each peer's IKE SA and bytes in /metrics and flannelctl status",
    async () => {
      const [n1, n2] = t.nodes as [TopologyNode, TopologyNode];
      expect(await pingMatrix()).toEqual([]);
      const conn = `${n1.ip}-${t.leaseSubnet(n1)}-${t.leaseSubnet(n2)}-${n2.ip}`;
      const bytes = (dir: 'receive' | 'transmit') =>
        Number(
          new RegExp(
            `^flannel_peer_${dir}_bytes_total\\{device="ipsec",peer="${escape(t.leaseSubnet(n2))}",public_key="${escape(conn)} [^"]*"\\} (\\d+)$`,
            'm',
          ).exec(t.httpGet(n1, '/metrics'))?.[1],
        );
      // Traffic while waiting: after charon's restart the pings before may have used the dead charon's SAs,
      // which the new charon does not count.
      const [from, to] = [n1.pods[0]!, n2.pods[0]!];
      await waitFor(() => ping(from, to.ip) && bytes('receive') > 0 && bytes('transmit') > 0, CATCH_UP, 500);
      if (!(bytes('receive') > 0 && bytes('transmit') > 0)) {
        const lines = t
          .httpGet(n1, '/metrics')
          .split('\n')
          .filter((l) => l.includes('device="ipsec"'));
        process.stderr.write(`[ipsec] tunnel peer metrics of node 1:\n${lines.join('\n')}\n${swanctl(n1, '--list-sas')}\n`);
      }
      expect([bytes('receive') > 0, bytes('transmit') > 0]).toEqual([true, true]);
      const status = execIn(n1.ns, 'node', built!.flannelctl, '--endpoint', `http://127.0.0.1:${HEALTHZ_PORT}`, 'status');
      expect(status).toContain('tunnel peers (1):');
      expect(status).toMatch(new RegExp(`ipsec +${escape(t.leaseSubnet(n2))} +${escape(n2.ip)} +\\d{4}-\\d\\d-\\d\\dT\\S+Z`));
      expect(status).toMatch(new RegExp(`connections +${escape(conn)}: ESTABLISHED`));
      expect(status).toMatch(/charon +charon pid \d+; restarted 1 time/);
    },
    SLOW,
  );

  it(
    'removes the policies and the connection of a peer that leaves',
    async () => {
      const [n1, n2] = t.nodes as [TopologyNode, TopologyNode];
      const subnet = t.leaseSubnet(n2);
      await t.stopFlanneld(n2);
      const registry = new EmbeddedRegistry(t.storePath, t.netConfPath, new RecordingLogger());
      try {
        await registry.delete(makeSubnetKey(IPNet.parse(subnet)));
      } finally {
        await registry.close();
      }
      await converged();
      expect(xfrmPolicies(n1)).toEqual([]);
      await waitFor(() => !swanctl(n1, '--list-conns').includes(n2.ip), CATCH_UP, 200);
      expect(swanctl(n1, '--list-conns')).not.toContain(n2.ip);
    },
    SLOW,
  );

  it('never wrote the PSK into any log, at debug level', () => {
    expect(started).toHaveLength(2);
    for (const p of started) {
      const out = p.output();
      expect(out).toContain('"level":"debug"');
      expect(out).toContain('"charon":'); // charon's own lines, passed through
      expect(out.includes(PSK)).toBe(false);
    }
  });
});

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
