// npm run bench -- wireguard
// Two nodes with a pod each, in the nested kernel (this host has no WireGuard; the script runs itself in the
// VM). Figures, all from the same guest:
//   - pod-to-pod TCP throughput (iperf3, 5 s) over wireguard, and over plain routes (host-gw) for comparison;
//   - lease to first ping: a ping from pod 1 to pod 2 already running, node 2's lease written again, and the
//     time from its write (node 2's log) to the first reply (ping -D), median of ROUNDS.
// Under software emulation the absolute numbers are far below a real machine's; the ratio is the figure.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { IPNet } from '@flannel-ts/core';
import { makeSubnetKey } from '@flannel-ts/core/internal';
import { EmbeddedRegistry } from '@flannel-ts/core/internal/embedded';
import { RecordingLogger } from '@flannel-ts/core/testing';
import { missingKernelFeature } from '../harness/kernel-features.js';
import { cleanupNetns, execIn, ipJson, sh } from '../harness/netns.js';
import { startProcess, stopAllProcesses, stopProcess, waitForOutput, type Started } from '../harness/processes.js';
import { snapshotFlanneld } from '../harness/flanneld-snapshot.js';
import { Topology, type TopologyNode } from '../harness/topology.js';
import { waitFor } from '../harness/wait.js';
import { inGuest, REPO, runInVm } from '../vm/run-in-vm.js';

const ROUNDS = 3;
const READY_MS = 300_000;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
/** flanneld as built when the bench started (a rebuild of the checkout meanwhile must not matter). */
let FLANNELD = '';

async function startNode(t: Topology, n: TopologyNode): Promise<Started> {
  const p = startProcess('node', [FLANNELD, ...t.flanneldArgs(n)], {
    netns: n.ns,
    env: { ...process.env, WIREGUARD_KEY_FILE: join(t.dir, `${n.name}.wgkey`) },
  });
  n.flanneld = p;
  await waitForOutput(p, (o) => o.includes('flannel is ready'), READY_MS, `flanneld on ${n.name}`);
  return p;
}

const podIP = (t: Topology, i: number) => t.nodes[i]!.pods[0]!.ip;
const pings = (t: Topology) => {
  try {
    execIn(t.nodes[0]!.pods[0]!.ns, 'ping', '-c1', '-W2', podIP(t, 1));
    return true;
  } catch {
    return false;
  }
};

/** Two nodes, a pod each, pinging. */
async function cluster(tag: string, backend: object): Promise<Topology> {
  const t = await Topology.create({ nodes: 2, store: 'embedded', tag, netConf: { Network: '10.244.0.0/16', Backend: backend } });
  for (const n of t.nodes) await startNode(t, n);
  for (const n of t.nodes) t.addPod(n);
  if (!(await waitFor(() => pings(t), 120_000, 200))) throw new Error(`${tag}: pods do not ping`);
  return t;
}

/** iperf3 from pod 1 to pod 2 for 5 s: the receiver's Mbit/s. */
async function throughput(t: Topology): Promise<number> {
  const ns = t.nodes[1]!.pods[0]!.ns;
  const server = startProcess('iperf3', ['-s', '-1'], { netns: ns });
  // iperf3's own "Server listening" sits in its stdout buffer: ask the kernel instead.
  if (!(await waitFor(() => execIn(ns, 'ss', '-Hltn', 'sport = :5201').trim() !== '', 60_000, 50))) throw new Error('iperf3 -s is not listening');
  const out = execIn(t.nodes[0]!.pods[0]!.ns, 'iperf3', '-c', podIP(t, 1), '-t', '5', '-J');
  await stopProcess(server.child, 5000);
  const r = JSON.parse(out) as { end: { sum_received: { bits_per_second: number } } };
  return r.end.sum_received.bits_per_second / 1e6;
}

/** Node 2 leaves (flanneld stopped, lease deleted) and comes back: ms from its new lease to pod 1's first reply. */
async function leaseToFirstPing(t: Topology): Promise<number> {
  const [n1, n2] = t.nodes as [TopologyNode, TopologyNode];
  await t.stopFlanneld(n2);
  const subnet = IPNet.parse(t.leaseSubnet(n2));
  const registry = new EmbeddedRegistry(t.storePath, t.netConfPath, new RecordingLogger());
  await registry.delete(makeSubnetKey(subnet));
  await registry.close();
  const peers = () => execIn(n1.ns, 'wg', 'show', 'flannel-wg', 'peers').trim();
  if (!(await waitFor(() => peers() === '', 60_000, 50))) throw new Error('node 1 kept the peer of a deleted lease');
  // One ping after another until one is answered (ping stops at the first "unreachable", which is all there is
  // until node 1 has the peer); -D prints the reply's time. Resolution: one ping's start-up in the guest.
  const ping = startProcess('sh', ['-c', 'until ping -c1 -W1 -D -n "$0"; do :; done', podIP(t, 1)], { netns: t.nodes[0]!.pods[0]!.ns });
  const p2 = await startNode(t, n2);
  const replied = /^\[(\d+\.\d+)\] \d+ bytes from/m;
  await waitForOutput(ping, (o) => replied.test(o), 120_000, 'a reply from pod 2');
  await stopProcess(ping.child, 1000);
  const reply = replied.exec(ping.stdout())!;
  const leaseLine = p2
    .output()
    .split('\n')
    .find((l) => l.includes('acquired a new lease') || l.includes('reusing the lease'));
  if (!leaseLine) throw new Error('node 2 did not log its lease');
  const written = Date.parse((JSON.parse(leaseLine) as { time: string }).time);
  return Number(reply[1]) * 1000 - written;
}

async function inVm(): Promise<void> {
  const snapshot = snapshotFlanneld();
  FLANNELD = snapshot.flanneld;
  try {
    await measure();
  } finally {
    snapshot.remove();
  }
}

async function measure(): Promise<void> {
  const results: Record<string, string | number> = {};
  const wg = await cluster('bw', { Type: 'wireguard' });
  try {
    results.wireguard_mbps = Math.round(await throughput(wg));
    const times: number[] = [];
    for (let i = 0; i < ROUNDS; i++) times.push(await leaseToFirstPing(wg));
    results.lease_to_first_ping_ms = Math.round(median(times));
    results.lease_to_first_ping_rounds_ms = times.map((x) => Math.round(x)).join(',');
    results.wireguard_device_mtu = ipJson<{ mtu: number }[]>(wg.nodes[0]!.ns, 'link', 'show', 'flannel-wg')[0]!.mtu;
  } finally {
    await wg.destroy();
  }
  const plain = await cluster('bp', { Type: 'host-gw' });
  try {
    results.plain_routes_mbps = Math.round(await throughput(plain));
  } finally {
    await plain.destroy();
  }
  results.wireguard_vs_plain = (Number(results.wireguard_mbps) / Number(results.plain_routes_mbps)).toFixed(2);
  results.kernel = readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim();
  results.emulated = inGuest() ? 'yes (qemu TCG)' : 'no';
  for (const [k, v] of Object.entries(results)) console.log(`RESULT ${k}=${v}`);
}

async function main(): Promise<void> {
  if (inGuest() || missingKernelFeature('wireguard') === undefined) {
    sh('modprobe', ['br_netfilter']); // iptables mode, as kube-flannel runs it
    try {
      await inVm();
    } finally {
      await stopAllProcesses();
      cleanupNetns();
    }
    return;
  }
  process.stderr.write('bench wireguard: this kernel has no WireGuard; running in the nested kernel (a few minutes)\n');
  const r = await runInVm(['node', 'test/dist/bench/wireguard.js'], { timeoutS: 2400, share: [REPO] });
  process.stdout.write(r.stdout);
  if (r.code !== 0) {
    process.stderr.write(r.stderr.slice(-4000));
    process.exit(r.code);
  }
}

await main();
