// npm run bench -- kube
// One flanneld in kube mode (vxlan, Network 100.0.0.0/8) against the real kube-apiserver fixture, and fake
// peers: Node objects annotated as flannel vxlan nodes (podCIDRs 100.64.0.0/10 in /24s, public IPs from
// 198.18.0.0/15). For 1,000 and 5,000 Nodes: time from spawn until the kernel holds a route to every peer,
// RSS then, and the lag behind a burst of 1,000 annotation changes (new VTEP MACs): from the last
// acknowledged PATCH until the last new MAC is in the kernel. Prints RESULT key=value lines.
import { FLANNEL_ROUTE_PROTOCOL } from '@flannel-ts/core';
import { NetlinkHandle, netlinkMonitor } from '@flannel-ts/core/netlink';
import { readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { KubeFixture } from '../harness/kube-apiserver.js';
import { KubeCluster } from '../harness/kube-cluster.js';
import { cleanupNetns, ipIn } from '../harness/netns.js';
import { startProcess, stopAllProcesses, stopProcess } from '../harness/processes.js';
import { FLANNELD } from '../harness/topology.js';

const P = 'flannel.alpha.coreos.com/';
const peerName = (i: number) => `kb-peer-${i}`;
const hex = (n: number) => n.toString(16).padStart(2, '0');
const mac = (tag: number, i: number) => `0e:${hex(tag)}:00:${hex((i >> 16) & 255)}:${hex((i >> 8) & 255)}:${hex(i & 255)}`;
const subnet = (i: number) => {
  const v = (100 << 24) + (64 << 16) + (i + 1) * 256;
  return `${v >>> 24}.${(v >> 16) & 255}.${(v >> 8) & 255}.0/24`;
};
const publicIP = (i: number) => {
  const v = (198 << 24) + (18 << 16) + i + 1;
  return `${v >>> 24}.${(v >> 16) & 255}.${(v >> 8) & 255}.${v & 255}`;
};
const annotations = (i: number, tag: number) => ({
  [`${P}kube-subnet-manager`]: 'true',
  [`${P}backend-type`]: 'vxlan',
  [`${P}public-ip`]: publicIP(i),
  [`${P}backend-data`]: JSON.stringify({ VNI: 1, VtepMAC: mac(tag, i) }),
});

/** Runs `fn` over 0..n-1 with `width` requests in flight; resolves when the last one is acknowledged. */
async function pool(from: number, to: number, width: number, fn: (i: number) => Promise<unknown>): Promise<number> {
  let next = from;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < to) await fn(next++);
    }),
  );
  return Date.now();
}

async function main(): Promise<void> {
  const f = await KubeFixture.start();
  let cluster: KubeCluster | undefined;
  const results: Record<string, string | number> = {};
  try {
    // The bench runs as admin: what it measures is the store and the engine, not RBAC.
    await f.ok('PUT', '/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/bench-node-agent', {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name: 'bench-node-agent' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'cluster-admin' },
      subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: 'node-agent' }],
    });
    cluster = await KubeCluster.create({
      fixture: f,
      tag: 'kb',
      nodes: 1,
      netConf: { Network: '100.0.0.0/8', Backend: { Type: 'vxlan' } },
      podCIDR: () => '100.250.0.0/24',
    });
    const topo = cluster.topo;
    const node = topo.nodes[0]!;
    const nl = NetlinkHandle.open({ netns: node.ns });
    const routeCount = async () => (await nl.routeList(4, { protocol: FLANNEL_ROUTE_PROTOCOL })).length;
    const macCount = async (tag: number) => {
      const link = await nl.linkByName('flannel.1');
      if (!link) return 0;
      const prefix = `0e:${hex(tag)}:`;
      return (await nl.neighList(link.index, 4)).filter((n) => String(n.mac ?? '').startsWith(prefix)).length;
    };
    // Listing 5,000 routes or neighbours costs the machine milliseconds each time: polled every 50 ms, not
    // faster, so that the measuring does not starve what it measures on two cores.
    const until = async (ok: () => Promise<boolean>, what: string, timeoutMs = 300_000) => {
      const deadline = Date.now() + timeoutMs;
      while (!(await ok())) {
        if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
        await new Promise((r) => setTimeout(r, 50));
      }
      return Date.now();
    };
    /** When the kernel says (netlink monitor, no polling) that `count` neighbours got a MAC with this tag. */
    const newMacs = (tag: number, count: number): Promise<number> => {
      const prefix = `0e:${hex(tag)}:`;
      const seen = new Set<string>();
      return new Promise((resolve, reject) => {
        const sub = netlinkMonitor(['neigh'], { netns: node.ns }).subscribe({
          next: (e) => {
            if (e.topic !== 'neigh' || e.action !== 'new' || !e.neigh || !String(e.neigh.mac ?? '').startsWith(prefix)) return;
            seen.add(String(e.neigh.ip));
            if (seen.size >= count) {
              sub.unsubscribe();
              resolve(Date.now());
            }
          },
          error: (err) => reject(err),
        });
      });
    };

    let created = 0;
    // BENCH_SIZES=5000 to run one size; BENCH_NODE_FLAGS (e.g. --cpu-prof) and BENCH_TRACE=/tmp/x (flanneld's info log to /tmp/x.<N>.log) for digging.
    for (const n of (process.env.BENCH_SIZES ?? '1000,5000').split(',').map(Number)) {
      const t0 = Date.now();
      await pool(created, n, 32, (i) => f.createNode(peerName(i), [subnet(i)], annotations(i, 0xaa)));
      created = n;
      console.error(`bench: ${n} Nodes in the API server (${((Date.now() - t0) / 1000).toFixed(1)} s to create)`);
      try {
        ipIn(node.ns, 'link', 'del', 'flannel.1');
      } catch {
        // first round
      }
      const spawned = Date.now();
      const nodeFlags = process.env.BENCH_NODE_FLAGS?.split(' ').filter(Boolean) ?? [];
      const p = startProcess('node', [...nodeFlags, FLANNELD, ...topo.flanneldArgs(node), process.env.BENCH_TRACE ? '--log-level=info' : '--log-level=warn'], {
        netns: node.ns,
        env: { ...process.env, NODE_NAME: cluster.nodeName(node) },
      });
      node.flanneld = p;
      const converged = await until(async () => (await routeCount()) >= n, `${n} routes`);
      results[`kube_start_to_all_routes_ms_${n}`] = converged - spawned;
      const rss = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${p.child.pid}/status`, 'utf8'))![1]!;
      results[`kube_rss_mb_${n}`] = Math.round(Number(rss) / 1024);

      // A burst of 1,000 annotation changes: new VTEP MACs for the first 1,000 peers.
      const tag = n === 1000 ? 0xb1 : 0xb5;
      const programmed = newMacs(tag, 1000).catch(() => until(async () => (await macCount(tag)) >= 1000, `1000 new MACs among ${n}`));
      const lastWrite = await pool(0, 1000, 32, (i) => f.annotateNode(peerName(i), { [`${P}backend-data`]: JSON.stringify({ VNI: 1, VtepMAC: mac(tag, i) }) }));
      const caughtUp = await programmed;
      results[`kube_burst_1000_lag_ms_${n}`] = caughtUp - lastWrite;
      await stopProcess(p.child);
      if (process.env.BENCH_TRACE) writeFileSync(`${process.env.BENCH_TRACE}.${n}.log`, p.output());
      node.flanneld = undefined;
      console.error(`bench: ${n}: ${JSON.stringify(Object.fromEntries(Object.entries(results).filter(([k]) => k.endsWith(`_${n}`))))}`);
    }
    nl.close();
    results.loadavg_1m = loadavg()[0]!.toFixed(2);
    results.cpus = cpus().length;
  } finally {
    await cluster?.destroy().catch(() => undefined);
    await stopAllProcesses();
    cleanupNetns();
    await f.stop();
  }
  for (const [k, v] of Object.entries(results)) console.log(`RESULT ${k}=${v}`);
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
