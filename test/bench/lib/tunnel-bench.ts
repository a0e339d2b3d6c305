// The body shared by the tunnel benches (test/bench/ipsec.ts, test/bench/wireguard.ts): two nodes with a pod each,
// in the nested kernel when this one lacks the backend's feature (the script then runs itself in the VM).
// Figures, all from the same guest:
//   - pod-to-pod TCP throughput (iperf3, 5 s) over the tunnel, and over plain routes (host-gw) for comparison;
//   - lease to first ping: node 2 leaves (flanneld stopped, its lease deleted), then comes back with a new lease
//     while pod 1 pings pod 2; the time from the lease's write (node 2's log) to the first reply (ping -D),
//     median of ROUNDS;
//   - whatever else the backend adds (an MTU).
// It lives in bench/lib/ so that scripts/bench.mjs, which lists bench/*.ts only, does not offer it as a bench.
import { readFileSync } from 'node:fs';
import { IPNet } from '@flannel-ts/core';
import { makeSubnetKey } from '@flannel-ts/core/internal';
import { EmbeddedRegistry } from '@flannel-ts/core/internal/embedded';
import { RecordingLogger } from '@flannel-ts/core/testing';
import { missingKernelFeature } from '../../harness/kernel-features.js';
import { cleanupNetns, execIn, sh } from '../../harness/netns.js';
import { startProcess, stopAllProcesses, stopProcess, waitForOutput, type Started } from '../../harness/processes.js';
import { snapshotFlanneld } from '../../harness/flanneld-snapshot.js';
import { Topology, type TopologyNode } from '../../harness/topology.js';
import { waitFor } from '../../harness/wait.js';
import { inGuest, REPO, runInVm } from '../../vm/run-in-vm.js';

const ROUNDS = 3;
const READY_MS = 300_000;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** What one tunnel bench does differently. */
export interface TunnelBench {
  /** The bench's name (test/bench/NAME.ts) and its RESULT keys' prefix: NAME_mbps, NAME_vs_plain. */
  name: string;
  /** The kernel feature missingKernelFeature() checks; without it the bench runs in the nested kernel. */
  feature: string;
  /** Why the bench goes to the nested kernel, e.g. "this kernel has no WireGuard". */
  vmReason: string;
  /** The tunnel cluster's Topology tag. */
  tag: string;
  /** The net-conf's Backend. */
  backend: object;
  /** Starts flanneld (the script at `flanneld`) for node n; the caller waits for it to be ready. */
  startFlanneld: (flanneld: string, t: Topology, n: TopologyNode) => Started;
  /** Node 1 no longer routes to a deleted lease (checked before node 2 comes back), and the error if it keeps doing so. */
  peerGone: { check: (n1: TopologyNode) => boolean; error: string };
  /** How long pods may take to ping, at the cluster's start and after node 2's return. */
  connectMs: number;
  /** RESULT figures of the tunnel cluster beyond throughput and lease to first ping (written after them). */
  extraResults: (t: Topology) => Record<string, string | number>;
}

/** flanneld as built when the bench started (a rebuild of the checkout meanwhile must not matter). */
let FLANNELD = '';

async function startNode(b: TunnelBench, t: Topology, n: TopologyNode): Promise<Started> {
  const p = b.startFlanneld(FLANNELD, t, n);
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
async function cluster(b: TunnelBench, tag: string, backend: object): Promise<Topology> {
  const t = await Topology.create({ nodes: 2, store: 'embedded', tag, netConf: { Network: '10.244.0.0/16', Backend: backend } });
  for (const n of t.nodes) await startNode(b, t, n);
  for (const n of t.nodes) t.addPod(n);
  if (!(await waitFor(() => pings(t), b.connectMs, 200))) throw new Error(`${tag}: pods do not ping`);
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
async function leaseToFirstPing(b: TunnelBench, t: Topology): Promise<number> {
  const [n1, n2] = t.nodes as [TopologyNode, TopologyNode];
  await t.stopFlanneld(n2);
  const subnet = IPNet.parse(t.leaseSubnet(n2));
  const registry = new EmbeddedRegistry(t.storePath, t.netConfPath, new RecordingLogger());
  await registry.delete(makeSubnetKey(subnet));
  await registry.close();
  if (!(await waitFor(() => b.peerGone.check(n1), 60_000, 50))) throw new Error(b.peerGone.error);
  // One ping after another until one is answered; -D prints the reply's time. Resolution: one ping's
  // start-up in the guest, and what each bench notes beside its peerGone.
  const ping = startProcess('sh', ['-c', 'until ping -c1 -W1 -D -n "$0"; do :; done', podIP(t, 1)], { netns: t.nodes[0]!.pods[0]!.ns });
  const p2 = await startNode(b, t, n2);
  const replied = /^\[(\d+\.\d+)\] \d+ bytes from/m;
  await waitForOutput(ping, (o) => replied.test(o), b.connectMs, 'a reply from pod 2');
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

async function inVm(b: TunnelBench): Promise<void> {
  const snapshot = snapshotFlanneld();
  FLANNELD = snapshot.flanneld;
  try {
    await measure(b);
  } finally {
    snapshot.remove();
  }
}

async function measure(b: TunnelBench): Promise<void> {
  const results: Record<string, string | number> = {};
  const tunnel = await cluster(b, b.tag, b.backend);
  try {
    results[`${b.name}_mbps`] = Math.round(await throughput(tunnel));
    const times: number[] = [];
    for (let i = 0; i < ROUNDS; i++) times.push(await leaseToFirstPing(b, tunnel));
    results.lease_to_first_ping_ms = Math.round(median(times));
    results.lease_to_first_ping_rounds_ms = times.map((x) => Math.round(x)).join(',');
    Object.assign(results, b.extraResults(tunnel));
  } finally {
    await tunnel.destroy();
  }
  const plain = await cluster(b, 'bp', { Type: 'host-gw' });
  try {
    results.plain_routes_mbps = Math.round(await throughput(plain));
  } finally {
    await plain.destroy();
  }
  results[`${b.name}_vs_plain`] = (Number(results[`${b.name}_mbps`]) / Number(results.plain_routes_mbps)).toFixed(2);
  results.kernel = readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim();
  results.emulated = inGuest() ? 'yes (qemu TCG)' : 'no';
  for (const [k, v] of Object.entries(results)) console.log(`RESULT ${k}=${v}`);
}

/** Measures here when this kernel (or the guest's) has the feature, else re-runs the bench's script in the VM. */
export async function runTunnelBench(b: TunnelBench): Promise<void> {
  if (inGuest() || missingKernelFeature(b.feature) === undefined) {
    sh('modprobe', ['br_netfilter']); // iptables mode, as kube-flannel runs it
    try {
      await inVm(b);
    } finally {
      await stopAllProcesses();
      cleanupNetns();
    }
    return;
  }
  process.stderr.write(`bench ${b.name}: ${b.vmReason}; running in the nested kernel (a few minutes)\n`);
  const r = await runInVm(['node', `test/dist/bench/${b.name}.js`], { timeoutS: 2400, share: [REPO] });
  process.stdout.write(r.stdout);
  if (r.code !== 0) {
    process.stderr.write(r.stderr.slice(-4000));
    process.exit(r.code);
  }
}
