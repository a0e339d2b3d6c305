// npm run bench -- wireguard
// Two nodes with a pod each, in the nested kernel (this host has no WireGuard; the script runs itself in the
// VM). Figures, all from the same guest:
//   - pod-to-pod TCP throughput (iperf3, 5 s) over wireguard, and over plain routes (host-gw) for comparison;
//   - lease to first ping: a ping from pod 1 to pod 2 already running, node 2's lease written again, and the
//     time from its write (node 2's log) to the first reply (ping -D), median of ROUNDS.
// Under software emulation the absolute numbers are far below a real machine's; the ratio is the figure.
// The cluster, the measurements and the RESULT lines are test/bench/lib/tunnel-bench.ts, shared with ipsec.
import { join } from 'node:path';
import { execIn, ipJson } from '../harness/netns.js';
import { startProcess } from '../harness/processes.js';
import { runTunnelBench } from './lib/tunnel-bench.js';

await runTunnelBench({
  name: 'wireguard', // RESULT wireguard_mbps, wireguard_vs_plain
  feature: 'wireguard',
  vmReason: 'this kernel has no WireGuard',
  tag: 'bw',
  backend: { Type: 'wireguard' },
  startFlanneld: (flanneld, t, n) =>
    startProcess('node', [flanneld, ...t.flanneldArgs(n)], {
      netns: n.ns,
      env: { ...process.env, WIREGUARD_KEY_FILE: join(t.dir, `${n.name}.wgkey`) },
    }),
  // Lease to first ping: ping stops at the first "unreachable", which is all there is until node 1 has the peer.
  peerGone: { check: (n1) => execIn(n1.ns, 'wg', 'show', 'flannel-wg', 'peers').trim() === '', error: 'node 1 kept the peer of a deleted lease' },
  connectMs: 120_000,
  extraResults: (t) => ({ wireguard_device_mtu: ipJson<{ mtu: number }[]>(t.nodes[0]!.ns, 'link', 'show', 'flannel-wg')[0]!.mtu }),
});
