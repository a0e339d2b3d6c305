// The namespace topology the e2e suites and the demo share:
//
//   underlay ns: bridge br0 (192.0.2.0/24) ── store ns (etcd, 192.0.2.250)
//                    ├── node1 ns: eth0 192.0.2.11, cni0 bridge, pods behind it, flanneld (real CLI)
//                    ├── node2 ns: eth0 192.0.2.12 ...
//
// Every namespace carries the run prefix; destroy() removes them and stops every process by PID.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { startEtcd, startEtcdCluster, type EtcdCluster, type EtcdOptions, type EtcdServer } from './etcd.js';
import { IPNet } from '@flannel-ts/core/ip';
import { cniAddList } from './cni.js';
import { cleanupNetns, createNetns, deleteNetns, execIn, ipIn, ipJson, RUN_PREFIX } from './netns.js';
import { startProcess, stopAllProcesses, stopProcess, waitForOutput, type Started } from './processes.js';
import { DEADLINE, waitFor } from './wait.js';

/** The built CLI, found through the workspace link so that it resolves from test/ and from test/dist/ alike. */
/** The flanneld executable as installed: its bundle when built, else the compiled modules (flanneld/bin/flanneld.js). */
export const FLANNELD = join(dirname(createRequire(import.meta.url).resolve('@flannel-ts/flanneld/package.json')), 'bin/flanneld.js');
const UNDERLAY = '192.0.2';
const STORE_IP = `${UNDERLAY}.250`;
/** Every flanneld serves /healthz, /readyz and /metrics on loopback inside its node namespace. */
export const HEALTHZ_PORT = 8471;

export interface Pod {
  ns: string;
  ip: string;
}

export interface TopologyNode {
  name: string;
  ns: string;
  ip: string;
  /** With `ipv6: true`: the node's IPv6 underlay address. */
  ip6?: string;
  subnetFile: string;
  flanneld?: Started | undefined;
  pods: Pod[];
}

export interface TopologyOptions {
  nodes: number;
  store: 'etcd' | 'embedded' | 'kube';
  /** Kube topologies: each node's flanneld store flags and environment (NODE_NAME); see test/harness/kube-cluster.ts. */
  kube?: { args(node: TopologyNode): string[]; env(node: TopologyNode): Record<string, string> };
  netConf: object;
  /** Extra namespace name part, so that two topologies of one run do not collide. */
  tag?: string;
  /** Also an IPv6 underlay (2001:db8::/64, documentation prefix) with a default route. */
  ipv6?: boolean;
  /** A host outside the cluster at the nodes' default gateway, 192.0.2.1 (namespace `gw`). */
  gateway?: boolean;
  /** etcd topologies: this many etcd members in the store namespace (192.0.2.250, .249, ...) forming one cluster. */
  etcdMembers?: number;
  /** etcd topologies with one member: extra etcd options (e.g. maxRequestBytes). */
  etcdOptions?: Pick<EtcdOptions, 'maxRequestBytes'>;
}

export class Topology {
  readonly nodes: TopologyNode[] = [];
  /** With `gateway: true`: the outside host's namespace. */
  gatewayNs?: string;
  readonly dir: string;
  etcd?: EtcdServer;
  /** With `etcdMembers` > 1: the cluster (`etcd` is then its first member). */
  etcdCluster?: EtcdCluster;
  private readonly namespaces: string[] = [];
  private readonly tag: string;
  /** The extra flanneld flags up() started the nodes with, for restore(). */
  private upFlags: string[] = [];

  private constructor(private readonly opts: TopologyOptions) {
    this.tag = opts.tag ?? '';
    this.dir = mkdtempSync(join(tmpdir(), `${RUN_PREFIX}topo${this.tag}-`));
  }

  static async create(opts: TopologyOptions): Promise<Topology> {
    const t = new Topology(opts);
    try {
      await t.build();
    } catch (err) {
      await t.destroy();
      throw err;
    }
    return t;
  }

  get underlayNs(): string {
    return this.namespaces[0]!;
  }

  get netConfPath(): string {
    return join(this.dir, 'net-conf.json');
  }

  get storePath(): string {
    return join(this.dir, 'leases.jsonl');
  }

  /** The namespace etcd runs in (etcd topologies only). */
  get etcdNs(): string {
    return this.namespaces[1]!;
  }

  get etcdPrefix(): string {
    return '/coreos.com/network';
  }

  private ns(name: string): string {
    const ns = createNetns(`${this.tag}${name}`);
    this.namespaces.push(ns);
    return ns;
  }

  private async build(): Promise<void> {
    const ul = this.ns('ul');
    ipIn(ul, 'link', 'add', 'br0', 'type', 'bridge');
    ipIn(ul, 'link', 'set', 'br0', 'up');
    writeFileSync(this.netConfPath, JSON.stringify(this.opts.netConf));
    if (this.opts.store === 'etcd') {
      const storeNs = this.ns('store');
      this.plug(storeNs, 'store', `${STORE_IP}/24`);
      const members = this.opts.etcdMembers ?? 1;
      if (members > 1) {
        const hosts = Array.from({ length: members }, (_, i) => `${UNDERLAY}.${250 - i}`);
        for (const h of hosts.slice(1)) ipIn(storeNs, 'addr', 'add', `${h}/24`, 'dev', 'eth0');
        this.etcdCluster = await startEtcdCluster({ netns: storeNs, hosts });
        this.etcd = this.etcdCluster.members[0]!;
      } else {
        this.etcd = await startEtcd({ netns: storeNs, host: STORE_IP, ...this.opts.etcdOptions });
      }
      await this.etcdctl('put', `${this.etcdPrefix}/config`, JSON.stringify(this.opts.netConf));
    }
    if (this.opts.gateway) {
      this.gatewayNs = this.ns('gw');
      this.plug(this.gatewayNs, 'gw', `${UNDERLAY}.1/24`);
    }
    for (let i = 1; i <= this.opts.nodes; i++) {
      const ns = this.ns(`n${i}`);
      const ip = `${UNDERLAY}.${10 + i}`;
      this.plug(ns, `n${i}`, `${ip}/24`);
      ipIn(ns, 'route', 'add', 'default', 'via', `${UNDERLAY}.1`, 'dev', 'eth0', 'onlink');
      execIn(ns, 'sysctl', '-qw', 'net.ipv4.ip_forward=1');
      const node: TopologyNode = { name: `node${i}`, ns, ip, subnetFile: join(this.dir, `n${i}`, 'subnet.env'), pods: [] };
      if (this.opts.ipv6) {
        node.ip6 = `2001:db8::${10 + i}`;
        ipIn(ns, '-6', 'addr', 'add', `${node.ip6}/64`, 'dev', 'eth0', 'nodad');
        ipIn(ns, '-6', 'route', 'add', 'default', 'via', '2001:db8::1', 'dev', 'eth0', 'onlink');
        execIn(ns, 'sysctl', '-qw', 'net.ipv6.conf.all.forwarding=1');
      }
      this.nodes.push(node);
    }
  }

  /** A veth from `ns` (eth0) to the underlay bridge. */
  private plug(ns: string, portName: string, cidr: string): void {
    ipIn(ns, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', portName, 'netns', this.underlayNs);
    ipIn(this.underlayNs, 'link', 'set', portName, 'master', 'br0', 'up');
    ipIn(ns, 'addr', 'add', cidr, 'dev', 'eth0');
    ipIn(ns, 'link', 'set', 'eth0', 'up');
  }

  /** Every etcd member's client URL, comma-separated (one member: its endpoint). */
  get etcdEndpoints(): string {
    return this.etcdCluster?.endpoints ?? this.etcd!.endpoint;
  }

  /**
   * etcdctl inside the store namespace. Its timeouts are generous (10 s to connect, 30 s a command): on a
   * loaded machine etcd and etcdctl can each wait seconds for a CPU. A test that expects etcd to be
   * unreachable runs etcdctl itself with short ones.
   */
  async etcdctl(...args: string[]): Promise<string> {
    return execIn(this.etcdNs, 'etcdctl', '--endpoints', this.etcdEndpoints, '--dial-timeout=10s', '--command-timeout=30s', ...args);
  }

  flanneldArgs(node: TopologyNode): string[] {
    const store =
      this.opts.store === 'etcd'
        ? [`--etcd-endpoints=${this.etcdEndpoints}`]
        : this.opts.store === 'kube'
          ? [...this.opts.kube!.args(node), `--net-config-path=${this.netConfPath}`]
          : ['--embedded-subnet-mgr', `--embedded-store-path=${this.storePath}`, `--net-config-path=${this.netConfPath}`];
    return [...store, `--subnet-file=${node.subnetFile}`, '--healthz-ip=127.0.0.1', `--healthz-port=${HEALTHZ_PORT}`];
  }

  /** GET on the node's flanneld health server (inside its namespace): "<status> <body>". */
  httpGet(node: TopologyNode, path: string): string {
    const js = `fetch('http://127.0.0.1:${HEALTHZ_PORT}${path}').then(async (r) => console.log(r.status, await r.text()), () => console.log('down'))`;
    return execIn(node.ns, 'node', '-e', js).trim();
  }

  /** One gauge or counter from the node's /metrics. */
  metric(node: TopologyNode, name: string): number | undefined {
    const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(this.httpGet(node, '/metrics'));
    return m ? Number(m[1]) : undefined;
  }

  /**
   * Starts the real flanneld CLI inside the node and waits until it says it is ready. FTS_FLANNELD_NODE_FLAGS
   * (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof") are passed to node before the script, for profiling a suite.
   */
  async startFlanneld(node: TopologyNode, extra: string[] = [], timeoutMs: number = DEADLINE.readyMs): Promise<Started> {
    const env = this.opts.kube ? { env: { ...process.env, ...this.opts.kube.env(node) } } : {};
    node.flanneld = startProcess(
      'node',
      [...(process.env.FTS_FLANNELD_NODE_FLAGS?.split(' ').filter(Boolean) ?? []), FLANNELD, ...this.flanneldArgs(node), ...extra],
      { netns: node.ns, ...env },
    );
    await waitForOutput(node.flanneld, (out) => out.includes('flannel is ready'), timeoutMs, `flanneld on ${node.name}`);
    return node.flanneld;
  }

  /** flanneld on every node (in parallel), then one pod per node: a cluster ready for traffic. */
  async up(extra: string[] = [], timeoutMs: number = DEADLINE.readyMs): Promise<this> {
    this.upFlags = extra;
    await Promise.all(this.nodes.map((n) => this.startFlanneld(n, extra, timeoutMs)));
    for (const n of this.nodes) this.addPod(n);
    return this;
  }

  /** Whether the node's flanneld is running: not stopped by a test, and not exited by itself. */
  isRunning(node: TopologyNode): boolean {
    const child = node.flanneld?.child;
    return child !== undefined && child.exitCode === null && child.signalCode === null;
  }

  /**
   * Puts back what a test may have stopped, so that each e2e case starts from a running cluster whatever
   * the one before it left (or failed to restore): etcd, and flanneld on every node (with up()'s flags).
   * Waits for readiness only; that the kernel has caught up is for the caller to check.
   */
  async restore(timeoutMs: number = DEADLINE.readyMs): Promise<void> {
    for (const m of this.etcdCluster?.members ?? (this.etcd ? [this.etcd] : [])) if (m.pid() === -1) await m.start();
    await Promise.all(this.nodes.filter((n) => !this.isRunning(n)).map((n) => this.startFlanneld(n, this.upFlags, timeoutMs)));
  }

  /** What keeps the running nodes from being converged: a node without our route (proto 70) to a peer's subnet. */
  private missingRoutes(family: 4 | 6): string[] {
    const running = this.nodes.filter((n) => this.isRunning(n));
    const missing: string[] = [];
    for (const n of running) {
      const dsts = new Set(ipJson<{ dst: string }[]>(n.ns, `-${family}`, 'route', 'show', 'proto', '70').map((r) => r.dst));
      for (const p of running) {
        if (p === n) continue;
        const subnet = this.leaseSubnet(p, family === 6);
        if (!dsts.has(subnet)) missing.push(`${n.name} has no route to ${p.name}'s ${subnet}`);
      }
    }
    return missing;
  }

  /**
   * Waits until every running node routes to every other one's subnet (both families with `ipv6`): flanneld
   * says it is ready once its own lease and kernel state are in place, and learns of peers that start beside
   * it a moment later. Every backend here (vxlan, host-gw, ipip) routes each peer subnet with proto 70.
   */
  async waitConverged(opts: { ipv6?: boolean; timeoutMs?: number } = {}): Promise<void> {
    const families: (4 | 6)[] = opts.ipv6 ? [4, 6] : [4];
    const missing = () => families.flatMap((f) => this.missingRoutes(f));
    if ((await waitFor(() => missing().length === 0, opts.timeoutMs ?? DEADLINE.convergeMs, 50)) === false) {
      throw new Error(`the cluster did not converge: ${missing().join('; ')}`);
    }
  }

  async stopFlanneld(node: TopologyNode): Promise<number | string | undefined> {
    if (!node.flanneld) return undefined;
    const code = await stopProcess(node.flanneld.child);
    node.flanneld = undefined;
    return code;
  }

  subnetEnv(node: TopologyNode): Record<string, string> {
    const text = readFileSync(node.subnetFile, 'utf8');
    return Object.fromEntries(
      text
        .trim()
        .split('\n')
        .map((l) => l.split('=') as [string, string]),
    );
  }

  /** The conflist a kubelet would use (kube-flannel's): flannel delegating to bridge, then portmap. */
  conflist(node: TopologyNode): { cniVersion: string; name: string; plugins: Record<string, unknown>[] } {
    const dir = dirname(node.subnetFile);
    return {
      cniVersion: '1.0.0',
      name: 'cbr0',
      plugins: [
        {
          type: 'flannel',
          subnetFile: node.subnetFile,
          dataDir: join(dir, 'cni'),
          delegate: { hairpinMode: true, isDefaultGateway: true },
          ipam: { dataDir: join(dir, 'host-local') },
        },
        { type: 'portmap', capabilities: { portMappings: true } },
      ],
    };
  }

  /** The node's lease, from subnet.env (which holds the subnet's first address: 10.244.3.1/24 is 10.244.3.0/24). */
  leaseSubnet(node: TopologyNode, ipv6 = false): string {
    return String(IPNet.parse(this.subnetEnv(node)[ipv6 ? 'FLANNEL_IPV6_SUBNET' : 'FLANNEL_SUBNET']!));
  }

  /** A pod made as the kubelet's runtime makes one: a namespace, then the CNI conflist's ADD. */
  addPod(node: TopologyNode): Pod {
    const k = node.pods.length + 1;
    const ns = this.ns(`${node.ns.slice(RUN_PREFIX.length + this.tag.length)}p${k}`);
    const r = cniAddList(node.ns, this.conflist(node), { containerID: ns, podNs: ns, ifname: 'eth0' });
    if (r.code !== 0) throw new Error(`CNI ADD for a pod on ${node.name} failed: ${r.stdout}${r.stderr}`);
    const ip = (r.json!.ips as { address: string }[])[0]!.address.split('/')[0]!;
    const pod = { ns, ip };
    node.pods.push(pod);
    return pod;
  }

  ping(from: Pod, to: Pod, timeoutS = 2): boolean {
    try {
      execIn(from.ns, 'ping', '-c1', '-q', `-W${timeoutS}`, to.ip);
      return true;
    } catch {
      return false;
    }
  }

  /** Every ordered pair of pods on different nodes, and whether it pinged. */
  pingMatrix(): { from: Pod; to: Pod; ok: boolean }[] {
    const pods = this.nodes.flatMap((n) => n.pods);
    const out: { from: Pod; to: Pod; ok: boolean }[] = [];
    for (const from of pods) for (const to of pods) if (from !== to) out.push({ from, to, ok: this.ping(from, to) });
    return out;
  }

  async destroy(): Promise<void> {
    await Promise.all(this.nodes.map((n) => this.stopFlanneld(n)));
    if (this.etcdCluster) await this.etcdCluster.destroy();
    else await this.etcd?.destroy();
    for (const ns of this.namespaces.reverse()) deleteNetns(ns);
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** For afterAll: every topology destroyed, every process this run started stopped, every namespace gone. */
export async function tearDown(topologies: (Topology | undefined)[]): Promise<void> {
  for (const t of topologies) await t?.destroy();
  await stopAllProcesses();
  cleanupNetns();
}
