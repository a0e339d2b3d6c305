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
// The cluster, the measurements and the RESULT lines are test/bench/lib/tunnel-bench.ts, shared with wireguard.
import { ipIn } from '../harness/netns.js';
import { startProcess } from '../harness/processes.js';
import type { TopologyNode } from '../harness/topology.js';
import { runTunnelBench } from './lib/tunnel-bench.js';

const PSK = 'b4'.repeat(48);

/** Node 1's XFRM policies with a direction. */
const policies = (n: TopologyNode) => (ipIn(n.ns, 'xfrm', 'policy', 'show').match(/ dir (in|out|fwd) /g) ?? []).length;

await runTunnelBench({
  name: 'ipsec', // RESULT ipsec_mbps, ipsec_vs_plain
  feature: 'ipsec',
  vmReason: 'this kernel has no ESP with AES-GCM',
  tag: 'bi',
  backend: { Type: 'ipsec', PSK },
  startFlanneld: (flanneld, t, n) => {
    // --ip-masq, as kube-flannel runs it: otherwise the CNI bridge masquerades pod traffic, which no policy matches.
    const args = [flanneld, ...t.flanneldArgs(n), '--ip-masq', '--log-format=json'];
    return startProcess('unshare', ['-m', '--propagation', 'private', 'sh', '-c', 'mount -t tmpfs flannel-run /run && exec node "$@"', 'sh', ...args], {
      netns: n.ns,
    });
  },
  // Lease to first ping's resolution also includes a ping's 1 s wait while the SAs are negotiated.
  peerGone: { check: (n1) => policies(n1) === 0, error: 'node 1 kept the policies of a deleted lease' },
  connectMs: 180_000,
  extraResults: (t) => ({ ipsec_pod_mtu: t.subnetEnv(t.nodes[0]!).FLANNEL_MTU! }),
});
