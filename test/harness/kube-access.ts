// How flanneld inside a node namespace reaches the API server, which listens on 127.0.0.1 of the host: a
// namespace has its own loopback. Each node namespace gets a veth to the host namespace, a /30 in
// 198.18.0.0/15 (benchmarking range, never routed), and a TCP proxy process in the host namespace listens
// on the host end of every such veth and forwards to 127.0.0.1:<API port>. TLS stays end to end: the node's
// kubeconfig names the server `kubernetes` (in the fixture certificate) with tls-server-name. The API server
// itself keeps its loopback-only settings, and no host firewall rule is touched. Stopping the proxy (by PID)
// cuts every node off the API server at once.
import { ipIn, RUN_PREFIX, sh } from './netns.js';
import { startProcess, stopProcess, waitForOutput, type Started } from './processes.js';
import { DEADLINE } from './wait.js';

const PROXY = `
const net = require('node:net');
const [target, ...listens] = process.argv.slice(1);
const [thost, tport] = target.split(':');
let up = 0;
for (const l of listens) {
  const [host, port] = l.split(':');
  net.createServer((c) => {
    const u = net.connect(Number(tport), thost);
    // Watch events are small writes: without TCP_NODELAY, Nagle and delayed ACKs hold each for ~40 ms.
    c.setNoDelay(true);
    u.setNoDelay(true);
    c.pipe(u).pipe(c);
    const end = () => { c.destroy(); u.destroy(); };
    c.on('error', end); u.on('error', end); c.on('close', end); u.on('close', end);
  }).listen(Number(port), host, () => { if (++up === listens.length) console.log('proxy listening'); });
}`;

/** A base /24 in 198.18.0.0/15 for this run (so two runs on one machine do not collide). */
function runBase(tag: number): string {
  const n = (parseInt(RUN_PREFIX.slice(3, 7), 16) + tag * 7) % 512;
  return `198.${18 + (n >> 8)}.${n & 255}`;
}

export interface KubeAccessNode {
  ns: string;
  /** The API server's address as the node sees it. */
  url: string;
}

export class KubeAccess {
  private proxy: Started | undefined;
  private readonly hostLinks: string[] = [];
  readonly nodes: KubeAccessNode[] = [];

  private constructor(private readonly apiPort: number) {}

  /** A veth per namespace and one proxy for them all. */
  static async create(namespaces: string[], apiPort: number, tag = 0): Promise<KubeAccess> {
    const a = new KubeAccess(apiPort);
    const base = runBase(tag);
    try {
      const listens: string[] = [];
      namespaces.forEach((ns, i) => {
        const host = `${base}.${4 * i + 1}`;
        const link = `${RUN_PREFIX}k${tag}x${i}`;
        sh('ip', ['link', 'add', link, 'type', 'veth', 'peer', 'name', 'kapi', 'netns', ns]);
        a.hostLinks.push(link);
        sh('ip', ['addr', 'add', `${host}/30`, 'dev', link]);
        sh('ip', ['link', 'set', link, 'up']);
        ipIn(ns, 'addr', 'add', `${base}.${4 * i + 2}/30`, 'dev', 'kapi');
        ipIn(ns, 'link', 'set', 'kapi', 'up');
        listens.push(`${host}:${apiPort}`);
        a.nodes.push({ ns, url: `https://${host}:${apiPort}` });
      });
      await a.startProxy(listens);
    } catch (err) {
      await a.destroy();
      throw err;
    }
    return a;
  }

  private listens: string[] = [];

  private async startProxy(listens: string[]): Promise<void> {
    this.listens = listens;
    this.proxy = startProcess('node', ['-e', PROXY, `127.0.0.1:${this.apiPort}`, ...listens]);
    await waitForOutput(this.proxy, (o) => o.includes('proxy listening'), DEADLINE.readyMs, 'kube API proxy');
  }

  urlFor(ns: string): string {
    return this.nodes.find((n) => n.ns === ns)!.url;
  }

  /** Cuts every node off the API server (the proxy stops), or lets them reach it again. */
  async cut(): Promise<void> {
    if (this.proxy) await stopProcess(this.proxy.child);
    this.proxy = undefined;
  }

  async reconnect(): Promise<void> {
    if (!this.proxy) await this.startProxy(this.listens);
  }

  async destroy(): Promise<void> {
    await this.cut();
    for (const l of this.hostLinks) {
      try {
        sh('ip', ['link', 'del', l]);
      } catch {
        // gone with its namespace
      }
    }
  }
}
