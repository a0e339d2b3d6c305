// A kube-mode cluster for the e2e suites: the namespace topology (test/harness/topology.ts) whose flanneld
// processes use --kube-subnet-mgr against the real API server fixture, each with a Node object created as
// kube-controller-manager would leave it (a podCIDR), the node-agent user's token (bound only to the
// manifest's ClusterRole), and the API server reached through test/harness/kube-access.ts.
import { join } from 'node:path';
import { KubeAccess } from './kube-access.js';
import type { KubeFixture } from './kube-apiserver.js';
import { Topology, type TopologyNode } from './topology.js';

export interface KubeClusterOptions {
  fixture: KubeFixture;
  /** Names this suite's namespaces and Node objects apart from other suites'. */
  tag: string;
  nodes: number;
  netConf: { Network: string; Backend: { Type: string } } & Record<string, unknown>;
  /** Pod CIDR of node i (1-based). */
  podCIDR(i: number): string;
  /** Extra annotations on the Node objects when created. */
  annotations?: Record<string, string>;
}

export class KubeCluster {
  topo!: Topology;
  access!: KubeAccess;
  private readonly kubeconfig: string;
  private constructor(readonly o: KubeClusterOptions) {
    this.kubeconfig = join(o.fixture.run, `agent-${o.tag}.kubeconfig`);
  }

  /** Node object name of a topology node. */
  nodeName(node: TopologyNode): string {
    return `${this.o.tag}-${node.name}`;
  }

  static async create(o: KubeClusterOptions): Promise<KubeCluster> {
    const c = new KubeCluster(o);
    // The kubeconfig names the fixture's server as 127.0.0.1 (as on the host); --kube-api-url points each
    // node at its way to the API server, and tls-server-name keeps the certificate check.
    o.fixture.writeKubeconfig(c.kubeconfig, 'node-agent', { tlsServerName: 'kubernetes' });
    c.topo = await Topology.create({
      nodes: o.nodes,
      store: 'kube',
      netConf: o.netConf,
      tag: o.tag,
      kube: {
        args: (node) => ['--kube-subnet-mgr', `--kubeconfig-file=${c.kubeconfig}`, `--kube-api-url=${c.access.urlFor(node.ns)}`],
        env: (node) => ({ NODE_NAME: c.nodeName(node) }),
      },
    });
    try {
      c.access = await KubeAccess.create(
        c.topo.nodes.map((n) => n.ns),
        o.fixture.apiPort,
        o.tag.length + o.tag.charCodeAt(0),
      );
      for (const [i, n] of c.topo.nodes.entries()) await c.createNode(n, o.podCIDR(i + 1));
    } catch (err) {
      await c.destroy();
      throw err;
    }
    return c;
  }

  async createNode(node: TopologyNode, podCIDR: string): Promise<void> {
    await this.o.fixture.deleteNode(this.nodeName(node));
    await this.o.fixture.createNode(this.nodeName(node), [podCIDR], this.o.annotations ?? {});
  }

  async destroy(): Promise<void> {
    await this.topo?.destroy();
    await this.access?.destroy();
    for (const n of this.topo?.nodes ?? []) await this.o.fixture.deleteNode(this.nodeName(n)).catch(() => undefined);
  }
}
