// npm run bench -- etcd-client
// flannel's etcd client (core/src/subnet/etcd: gRPC over node:http2, hand-written protobuf; "ours") against
// the etcd3 package (grpc-js + protobufjs), which flanneld used before, and against etcd's JSON gRPC-gateway
// over node:http (a minimal client written here: list and watch only, to measure that option). Interleaved,
// so that a loaded machine slows all alike; the load average is printed beside each figure.
//   load:  a fresh node imports the client and makes one (median of ROUNDS): ms, and RSS / heap it adds
//   watch: one put at a time, from the put's start to the watch event (median and p95 of PUTS per round);
//          then BURST keys: a fresh client lists them (list_), and a new watch catches up on them from
//          before they were written (catchup_: from its request to the last event)
//   flanneld (with BENCH_FLANNELD_B=<another build's bin/flanneld.js>): that build (b) and this one (or
//          BENCH_FLANNELD_A), alternating, each started with N peer leases in etcd: time to all N routes and
//          its RSS then, 5 s later, and its peak (VmHWM) by then (N = 0, 1,000, 5,000). A copy of a build: its bin/ and bundle/ under the
//          checkout (so that what it leaves out of the bundle resolves from node_modules).
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { request } from 'node:http';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Etcd3 } from 'etcd3';
import { FLANNEL_ROUTE_PROTOCOL } from '@flannel-ts/core';
import { EtcdClient, prefixEnd } from '@flannel-ts/core/internal/etcd';
import { NetlinkHandle } from '@flannel-ts/core/netlink';
import { startEtcd } from '../harness/etcd.js';
import { cleanupNetns, execIn, ipIn } from '../harness/netns.js';
import { startProcess, stopAllProcesses, stopProcess } from '../harness/processes.js';
import { FLANNELD, Topology } from '../harness/topology.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const PUTS = 200;
const BURST = 5000;
const SETTLE_MS = 5000;
const PREFIX = '/coreos.com/network';
const WRITER = fileURLToPath(new URL('../harness/etcd-lease-writer.js', import.meta.url));
const CORE_ETCD = fileURLToPath(import.meta.resolve('@flannel-ts/core/internal/etcd'));
const TEST_DIR = fileURLToPath(new URL('../..', import.meta.url)); // test/, from test/dist/bench

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((xs.length * p) / 100))]!;
const load = () => loadavg()[0]!.toFixed(1);
const results: Record<string, string> = {};
const result = (key: string, value: string) => {
  results[key] = value;
  console.error(`  ${key}=${value}`);
};

/** Import and construct a client in a fresh node (rxjs, which flanneld loads anyway, first). */
type Client = 'etcd3' | 'ours' | 'gateway';
const CLIENTS: Client[] = ['etcd3', 'ours', 'gateway'];
/** Round r's order: each client goes first in turn. */
const order = (r: number): Client[] => [...CLIENTS.slice(r % 3), ...CLIENTS.slice(0, r % 3)];

function loadOnce(which: Client): { ms: number; rssMb: number; heapMb: number } {
  const imp = {
    etcd3: `const { Etcd3 } = await import('etcd3'); await import('cockatiel'); const c = new Etcd3({ hosts: 'http://127.0.0.1:1' });`,
    ours: `const { EtcdClient } = await import(${JSON.stringify(CORE_ETCD)}); const c = new EtcdClient({ hosts: ['http://127.0.0.1:1'] });`,
    // The gateway client needs node:http and JSON; its own code would be about the size of ours.
    gateway: `const http = await import('node:http'); const a = new http.Agent({ keepAlive: true }); const c = { close: () => a.destroy() };`,
  }[which];
  const script = `await import('rxjs'); gc(); const m0 = process.memoryUsage(); const t0 = performance.now(); ${imp}
    const ms = performance.now() - t0; gc(); const m1 = process.memoryUsage(); c.close();
    console.log(JSON.stringify({ ms, rssMb: (m1.rss - m0.rss) / 2 ** 20, heapMb: (m1.heapUsed - m0.heapUsed) / 2 ** 20 }));`;
  return JSON.parse(execFileSync('node', ['--expose-gc', '--input-type=module', '-e', script], { cwd: TEST_DIR, encoding: 'utf8' })) as {
    ms: number;
    rssMb: number;
    heapMb: number;
  };
}

function benchLoad(): void {
  const runs: Record<Client, { ms: number; rssMb: number; heapMb: number }[]> = { etcd3: [], ours: [], gateway: [] };
  const loads: string[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    for (const which of order(i)) runs[which].push(loadOnce(which));
    loads.push(load());
  }
  for (const which of CLIENTS) {
    result(`load_${which}_ms`, median(runs[which].map((r) => r.ms)).toFixed(1));
    result(`load_${which}_rss_mb`, median(runs[which].map((r) => r.rssMb)).toFixed(1));
    result(`load_${which}_heap_mb`, median(runs[which].map((r) => r.heapMb)).toFixed(1));
  }
  result('load_loadavg', loads.join('/'));
}

interface Watching {
  /** When `key`'s event arrived (performance.now()), once it has. */
  arrival(key: string): Promise<number>;
  close(): void;
}

/** Arrival times by key, and promises for keys not seen yet. */
function arrivals(): { seen(key: string, at: number): void; arrival(key: string): Promise<number> } {
  const at = new Map<string, number>();
  const waiting = new Map<string, (t: number) => void>();
  return {
    seen(key, t) {
      at.set(key, t);
      waiting.get(key)?.(t);
    },
    arrival(key) {
      const t = at.get(key);
      return t !== undefined ? Promise.resolve(t) : new Promise((resolve) => waiting.set(key, resolve));
    },
  };
}

function watchEtcd3(endpoint: string, prefix: string, startRevision?: number): Promise<Watching> {
  const client = new Etcd3({ hosts: endpoint, grpcOptions: { 'grpc.max_receive_message_length': -1 } });
  const a = arrivals();
  const builder = client.watch().prefix(prefix);
  if (startRevision) builder.startRevision(String(startRevision));
  return builder.create().then((w) => {
    w.on('data', (res) => {
      const now = performance.now();
      for (const ev of res.events) a.seen(ev.kv.key.toString(), now);
    });
    return { arrival: a.arrival, close: () => void w.cancel().finally(() => client.close()) };
  });
}

function watchOurs(endpoint: string, prefix: string, startRevision?: number): Promise<Watching> {
  const client = new EtcdClient({ hosts: [endpoint] });
  const a = arrivals();
  return new Promise((resolve) => {
    const w = client.watch(
      { key: prefix, rangeEnd: prefixEnd(prefix), ...(startRevision ? { startRevision } : {}) },
      {
        onCreated: () => resolve({ arrival: a.arrival, close: () => (w.close(), client.close()) }),
        onResponse: (res) => {
          const now = performance.now();
          for (const ev of res.events) a.seen(ev.kv.key, now);
        },
        onCanceled: () => undefined,
        onDisconnected: () => undefined,
      },
    );
  });
}

const b64 = (s: string | Buffer) => Buffer.from(s).toString('base64');
const unb64 = (s: string | undefined) => Buffer.from(s ?? '', 'base64').toString();

/** A POST to etcd's gRPC-gateway (/v3/..., JSON with base64 bytes and int64 as strings). */
function gatewayPost(endpoint: string, path: string, body: object): Promise<{ kvs?: { key: string; value?: string }[] }> {
  return new Promise((resolve, reject) => {
    const req = request(`${endpoint}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve(JSON.parse(Buffer.concat(chunks).toString()) as { kvs?: { key: string; value?: string }[] }));
    });
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}

/** The gateway's watch: one streaming response of newline-separated {"result": WatchResponse} objects. */
function watchGateway(endpoint: string, prefix: string, startRevision?: number): Promise<Watching> {
  const a = arrivals();
  return new Promise((resolve, reject) => {
    const create = { key: b64(prefix), range_end: b64(prefixEnd(prefix)), ...(startRevision ? { start_revision: String(startRevision) } : {}) };
    const req = request(`${endpoint}/v3/watch`, { method: 'POST', headers: { 'content-type': 'application/json' } }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => {
        text += c.toString();
        let nl: number;
        while ((nl = text.indexOf('\n')) >= 0) {
          const line = text.slice(0, nl);
          text = text.slice(nl + 1);
          if (!line.trim()) continue;
          const { result } = JSON.parse(line) as { result: { created?: boolean; events?: { kv: { key: string; value?: string } }[] } };
          if (result.created) resolve({ arrival: a.arrival, close: () => req.destroy() });
          const now = performance.now();
          for (const ev of result.events ?? []) {
            unb64(ev.kv.value); // what a registry would do with it
            a.seen(unb64(ev.kv.key), now);
          }
        }
      });
    });
    req.on('error', reject);
    req.end(JSON.stringify({ create_request: create }));
  });
}

/** A fresh client's first listing of `prefix`, keys and values as strings, as the registry makes them. */
async function listWith(which: Client, endpoint: string, prefix: string): Promise<number> {
  if (which === 'etcd3') {
    const c = new Etcd3({ hosts: endpoint, grpcOptions: { 'grpc.max_receive_message_length': -1 } });
    const res = await c.getAll().prefix(prefix).exec();
    const n = res.kvs.map((kv) => [kv.key.toString(), kv.value.toString()]).length;
    c.close();
    return n;
  }
  if (which === 'ours') {
    const c = new EtcdClient({ hosts: [endpoint] });
    const n = (await c.range({ key: prefix, rangeEnd: prefixEnd(prefix) })).kvs.length;
    c.close();
    return n;
  }
  const res = await gatewayPost(endpoint, '/v3/kv/range', { key: b64(prefix), range_end: b64(prefixEnd(prefix)) });
  return (res.kvs ?? []).map((kv) => [unb64(kv.key), unb64(kv.value)]).length;
}

const watchWith = { etcd3: watchEtcd3, ours: watchOurs, gateway: watchGateway };

async function benchWatch(): Promise<void> {
  const etcd = await startEtcd();
  const writer = new Etcd3({ hosts: etcd.endpoint });
  try {
    const lat: Record<Client, number[]> = { etcd3: [], ours: [], gateway: [] };
    const burst: Record<Client, number[]> = { etcd3: [], ours: [], gateway: [] };
    const list: Record<Client, number[]> = { etcd3: [], ours: [], gateway: [] };
    const loads: string[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      for (const which of order(round)) {
        const prefix = `/bench/${which}/${round}/`;
        const w = await watchWith[which](etcd.endpoint, prefix);
        for (let i = 0; i < PUTS; i++) {
          const key = `${prefix}k${i}`;
          const t0 = performance.now();
          await writer.put(key).value(`{"PublicIP":"198.18.0.${i % 250}","BackendType":"vxlan"}`);
          lat[which].push((await w.arrival(key)) - t0);
        }
        w.close();
        // Catch-up: BURST keys written in transactions of 100, then a new watch from before them; from its
        // request to the last event (decoding and delivering BURST events, connection setup included).
        const bp = `${prefix}burst/`;
        let first = 0;
        for (let i = 0; i < BURST; i += 100) {
          const puts = Array.from({ length: 100 }, (_, j) => writer.put(`${bp}${i + j}`).value(`{"PublicIP":"198.18.${(i + j) >> 8}.${(i + j) & 255}"}`));
          const res = await writer
            .if(`${bp}never`, 'Version', '==', 0)
            .then(...puts)
            .commit();
          first ||= Number(res.header.revision);
        }
        const l0 = performance.now();
        if ((await listWith(which, etcd.endpoint, bp)) !== BURST) throw new Error(`${which}: listing is short`);
        list[which].push(performance.now() - l0);
        const t0 = performance.now();
        const w2 = await watchWith[which](etcd.endpoint, bp, first);
        burst[which].push((await w2.arrival(`${bp}${BURST - 1}`)) - t0);
        w2.close();
        await writer.delete().prefix(prefix);
      }
      loads.push(load());
    }
    for (const which of CLIENTS) {
      result(`list_${which}_${BURST}_ms`, median(list[which]).toFixed(1));
      result(`watch_${which}_p50_ms`, median(lat[which]).toFixed(2));
      result(`watch_${which}_p95_ms`, pct(lat[which], 95).toFixed(2));
      result(`watch_${which}_catchup_${BURST}_ms`, median(burst[which]).toFixed(1));
    }
    result('watch_loadavg', loads.join('/'));
  } finally {
    writer.close();
    await etcd.destroy();
  }
}

/** Two flanneld builds, alternating: cold start to all N routes and RSS then. */
async function benchFlanneld(other: string): Promise<void> {
  const builds = { b: other, this: process.env.BENCH_FLANNELD_A ?? FLANNELD };
  const topo = await Topology.create({
    nodes: 1,
    store: 'etcd',
    netConf: { Network: '100.0.0.0/8', SubnetLen: 24, SubnetMin: '100.250.0.0', Backend: { Type: 'vxlan' } },
    tag: 'be',
  });
  const node = topo.nodes[0]!;
  const nl = NetlinkHandle.open({ netns: node.ns });
  const routeCount = async () => (await nl.routeList(4, { protocol: FLANNEL_ROUTE_PROTOCOL })).length;
  try {
    for (const n of [0, 1000, 5000]) {
      const cold: Record<string, number[]> = { b: [], this: [] };
      const rss: Record<string, number[]> = { b: [], this: [] };
      const settled: Record<string, number[]> = { b: [], this: [] };
      const peak: Record<string, number[]> = { b: [], this: [] };
      const loads: string[] = [];
      for (let round = 0; round < Math.min(ROUNDS, 3); round++) {
        for (const which of round % 2 ? (['this', 'b'] as const) : (['b', 'this'] as const)) {
          if (node.flanneld) await stopProcess(node.flanneld.child);
          node.flanneld = undefined;
          await topo.etcdctl('del', '--prefix', `${PREFIX}/subnets/`);
          try {
            ipIn(node.ns, 'link', 'del', 'flannel.1');
          } catch {
            // not there yet
          }
          if (n) execIn(topo.etcdNs, 'node', WRITER, topo.etcd!.endpoint, PREFIX, '0', String(n));
          const t0 = Date.now();
          node.flanneld = startProcess('node', [builds[which], ...topo.flanneldArgs(node), '--log-level=warn'], { netns: node.ns });
          const deadline = t0 + 120_000;
          // With no peers, "all routes" is readiness.
          const done = async () => (n ? (await routeCount()) >= n : topo.httpGet(node, '/readyz').startsWith('200 '));
          while (!(await done())) {
            if (Date.now() > deadline) throw new Error(`${which}: not converged with ${n} peers:\n${node.flanneld.output().slice(-2000)}`);
            await new Promise((r) => setTimeout(r, n ? 2 : 20));
          }
          cold[which]!.push(Date.now() - t0);
          rss[which]!.push(rssMb(node.flanneld.child.pid!));
          // And once the start's garbage had time to go: SETTLE_MS later (a measurement, not a wait for anything).
          await new Promise((r) => setTimeout(r, SETTLE_MS));
          settled[which]!.push(rssMb(node.flanneld.child.pid!));
          peak[which]!.push(rssMb(node.flanneld.child.pid!, 'VmHWM'));
        }
        loads.push(load());
      }
      for (const which of ['b', 'this'] as const) {
        result(`flanneld_${which}_cold_${n}_ms`, String(median(cold[which]!)));
        result(`flanneld_${which}_rss_${n}_mb`, median(rss[which]!).toFixed(1));
        result(`flanneld_${which}_rss_${n}_settled_mb`, median(settled[which]!).toFixed(1));
        result(`flanneld_${which}_rss_${n}_peak_mb`, median(peak[which]!).toFixed(1));
        console.error(
          `    ${which}: cold ${cold[which]!.join(', ')} ms; RSS ${rss[which]!.map((x) => x.toFixed(0)).join(', ')}, settled ${settled[which]!.map((x) => x.toFixed(0)).join(', ')}, peak ${peak[which]!.map((x) => x.toFixed(0)).join(', ')} MB`,
        );
      }
      result(`flanneld_${n}_loadavg`, loads.join('/'));
    }
  } finally {
    nl.close();
    await topo.destroy();
  }
}

/** VmRSS now, or VmHWM: the most it was resident at any time. */
function rssMb(pid: number, field: 'VmRSS' | 'VmHWM' = 'VmRSS'): number {
  return Number(new RegExp(`${field}:\\s+(\\d+)`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;
}

async function main(): Promise<void> {
  try {
    console.error(`module load (${ROUNDS} rounds, alternating)`);
    benchLoad();
    console.error(`watch latency (${ROUNDS} rounds of ${PUTS} puts and a ${BURST}-key burst, alternating)`);
    await benchWatch();
    const other = process.env.BENCH_FLANNELD_B;
    if (other) {
      if (!existsSync(other)) throw new Error(`BENCH_FLANNELD_B: no ${other}`);
      console.error(`flanneld: ${other} (b) and ${process.env.BENCH_FLANNELD_A ?? FLANNELD} (this), alternating`);
      await benchFlanneld(other);
    }
    for (const [k, v] of Object.entries(results)) console.log(`RESULT ${k}=${v}`);
  } finally {
    await stopAllProcesses();
    cleanupNetns();
  }
}

await main();
