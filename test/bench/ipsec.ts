// npm run bench -- ipsec
// Two nodes with a pod each, in the nested kernel (this host has no ESP with AES-GCM; the script runs itself
// in the VM). Figures, all from the same guest:
//   - pod-to-pod TCP throughput (iperf3, 5 s) over ipsec (ESP, Go flannel's default proposal
//     aes128gcm16-sha256-prfsha256-ecp256), and over plain routes (host-gw) for comparison;
//   - lease to first ping: node 2 leaves (flanneld stopped, which stops its charon, and its lease deleted),
//     then comes back with a new lease while pod 1 pings pod 2; the time from the lease's write (node 2's
//     log) to the first reply (ping -D), median of ROUNDS. It includes charon's start on node 2 and one
//     IKE_SA_INIT + IKE_AUTH exchange (modp4096) between the nodes.
// Each flanneld runs with a private /run, as charon's pid file allows one charon per /run.
// Under software emulation the absolute numbers are far below a real machine's; the ratio is the figure.
import { readFileSync } from 'node:fs';
import { IPNet } from '@flannel-ts/core';
import { makeSubnetKey } from '@flannel-ts/core/internal';
import { EmbeddedRegistry } from '@flannel-ts/core/internal/embedded';
import { RecordingLogger } from '@flannel-ts/core/testing';
import { missingKernelFeature } from '../harness/kernel-features.js';
import { cleanupNetns, execIn, ipIn, sh } from '../harness/netns.js';
import { startProcess, stopAllProcesses, stopProcess, waitForOutput, type Started } from '../harness/processes.js';
import { snapshotFlanneld } from '../harness/flanneld-snapshot.js';
import { Topology, type TopologyNode } from '../harness/topology.js';
import { waitFor } from '../harness/wait.js';
import { inGuest, REPO, runInVm } from '../vm/run-in-vm.js';

const ROUNDS = 3;
const READY_MS = 300_000;
const PSK = 'b4'.repeat(48);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
/** flanneld as built when the bench started (a rebuild of the checkout meanwhile must not matter). */
let FLANNELD = '';

async function startNode(t: Topology, n: TopologyNode): Promise<Started> {
  // --ip-masq, as kube-flannel runs it: otherwise the CNI bridge masquerades pod traffic, which no policy matches.
  const args = [FLANNELD, ...t.flanneldArgs(n), '--ip-masq', '--log-format=json'];
  const p = startProcess('unshare', ['-m', '--propagation', 'private', 'sh', '-c', 'mount -t tmpfs flannel-run /run && exec node "$@"', 'sh', ...args], {
    netns: n.ns,
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
  if (!(await waitFor(() => pings(t), 180_000, 200))) throw new Error(`${tag}: pods do not ping`);
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

/** Node 1's XFRM policies with a direction. */
const policies = (n: TopologyNode) => (ipIn(n.ns, 'xfrm', 'policy', 'show').match(/ dir (in|out|fwd) /g) ?? []).length;

/** Node 2 leaves (flanneld stopped, lease deleted) and comes back: ms from its new lease to pod 1's first reply. */
async function leaseToFirstPing(t: Topology): Promise<number> {
  const [n1, n2] = t.nodes as [TopologyNode, TopologyNode];
  await t.stopFlanneld(n2);
  const subnet = IPNet.parse(t.leaseSubnet(n2));
  const registry = new EmbeddedRegistry(t.storePath, t.netConfPath, new RecordingLogger());
  await registry.delete(makeSubnetKey(subnet));
  await registry.close();
  if (!(await waitFor(() => policies(n1) === 0, 60_000, 50))) throw new Error('node 1 kept the policies of a deleted lease');
  // One ping after another until one is answered; -D prints the reply's time. Resolution: one ping's
  // start-up in the guest, or its 1 s wait while the SAs are negotiated.
  const ping = startProcess('sh', ['-c', 'until ping -c1 -W1 -D -n "$0"; do :; done', podIP(t, 1)], { netns: t.nodes[0]!.pods[0]!.ns });
  const p2 = await startNode(t, n2);
  const replied = /^\[(\d+\.\d+)\] \d+ bytes from/m;
  await waitForOutput(ping, (o) => replied.test(o), 180_000, 'a reply from pod 2');
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
  const ipsec = await cluster('bi', { Type: 'ipsec', PSK });
  try {
    results.ipsec_mbps = Math.round(await throughput(ipsec));
    const times: number[] = [];
    for (let i = 0; i < ROUNDS; i++) times.push(await leaseToFirstPing(ipsec));
    results.lease_to_first_ping_ms = Math.round(median(times));
    results.lease_to_first_ping_rounds_ms = times.map((x) => Math.round(x)).join(',');
    results.ipsec_pod_mtu = ipsec.subnetEnv(ipsec.nodes[0]!).FLANNEL_MTU!;
  } finally {
    await ipsec.destroy();
  }
  const plain = await cluster('bp', { Type: 'host-gw' });
  try {
    results.plain_routes_mbps = Math.round(await throughput(plain));
  } finally {
    await plain.destroy();
  }
  results.ipsec_vs_plain = (Number(results.ipsec_mbps) / Number(results.plain_routes_mbps)).toFixed(2);
  results.kernel = readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim();
  results.emulated = inGuest() ? 'yes (qemu TCG)' : 'no';
  for (const [k, v] of Object.entries(results)) console.log(`RESULT ${k}=${v}`);
}

async function main(): Promise<void> {
  if (inGuest() || missingKernelFeature('ipsec') === undefined) {
    sh('modprobe', ['br_netfilter']); // iptables mode, as kube-flannel runs it
    try {
      await inVm();
    } finally {
      await stopAllProcesses();
      cleanupNetns();
    }
    return;
  }
  process.stderr.write('bench ipsec: this kernel has no ESP with AES-GCM; running in the nested kernel (a few minutes)\n');
  const r = await runInVm(['node', 'test/dist/bench/ipsec.js'], { timeoutS: 2400, share: [REPO] });
  process.stdout.write(r.stdout);
  if (r.code !== 0) {
    process.stderr.write(r.stderr.slice(-4000));
    process.exit(r.code);
  }
}

await main();
