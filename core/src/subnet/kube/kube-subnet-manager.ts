import { readFile } from 'node:fs/promises';
import { filter, map, Subscription, type Observable } from 'rxjs';
import type { Clock } from '../../contracts/clock.js';
import type { Lease, LeaseAttrs, LeaseEvent, LeaseWatchResult } from '../../contracts/lease.js';
import type { Logger } from '../../contracts/logger.js';
import type { NetworkConfig } from '../../contracts/network-config.js';
import { LeaseRevokedError, type SubnetManager } from '../../contracts/subnet-manager.js';
import { NetConfigReader, parseNetConfig } from '../../config/net-conf.js';
import { UserError } from '../../errors/user-error.js';
import { IP } from '../../ip/ip.js';
import type { IPNet } from '../../ip/ipnet.js';
import { retryWithBackoff } from '../../util/retry.js';
import type { KubeAnnotations } from './annotations.js';
import { isForbidden, isNotFound, type KubeApi } from './kube-api.js';
import { NodeInformer, type InformerOptions, type InformerUpdate } from './node-informer.js';
import {
  annotationsToWrite,
  containsCIDR,
  networkAvailablePatch,
  nodeToLease,
  nodeView,
  podSubnets,
  sameLeaseAnnotations,
  type Families,
  type NodeView,
} from './node-lease.js';

export interface KubeSubnetManagerOptions {
  nodeName: string;
  netConfigPath: string;
  annotations: KubeAnnotations;
  /** --set-node-network-unavailable: mark the node's network available once we hold the lease. */
  setNodeNetworkUnavailable: boolean;
  clock: Clock;
  informer?: Omit<InformerOptions, 'clock'>;
}

/** Addresses kept on our Node for this node (the node-public-ip annotations); they override --public-ip. */
export interface StoredPublicIP {
  publicIP?: IP;
  publicIPv6?: IP;
}

/**
 * The Kubernetes subnet manager, Go flannel's kube mode: a lease is a Node. Our subnet is the node's
 * spec.podCIDR(s), given by kube-controller-manager (we never allocate); our attributes go into the node's
 * annotations with a strategic-merge patch of nodes/status; peers are the nodes annotated
 * `kube-subnet-manager: "true"`, followed by one list + watch of all nodes. The network config is the
 * net-conf.json file (--net-config-path).
 */
export class KubeSubnetManager implements SubnetManager {
  readonly name: string;
  private readonly informer: NodeInformer;
  private families: Families | undefined;
  private readonly netConf: NetConfigReader;
  /** Our attributes once we hold the lease: completeLease writes them again if they are changed or removed. */
  private ours: LeaseAttrs | undefined;
  /** The last list or watch failure, while the API server does not answer (cleared by the next success). */
  private apiDown: Error | undefined;

  constructor(
    private readonly api: KubeApi,
    private readonly logger: Logger,
    private readonly o: KubeSubnetManagerOptions,
  ) {
    this.name = `Kubernetes Subnet Manager - ${o.nodeName}`;
    this.netConf = new NetConfigReader(parseNetConfig, logger);
    this.informer = new NodeInformer(api, o.annotations, logger, {
      ...o.informer,
      clock: o.clock,
      onResult: (err) => (this.apiDown = err),
    });
  }

  get nodeName(): string {
    return this.o.nodeName;
  }

  close(): Promise<void> {
    this.api.close();
    return Promise.resolve();
  }

  /**
   * net-conf.json, parsed (Go does not validate it in kube mode: no subnet is allocated from it). While the
   * node watch cannot reach the API server this fails with that error, so that flanneld's store monitor
   * reports the outage, as it does for etcd.
   */
  async getNetworkConfig(_signal: AbortSignal): Promise<NetworkConfig> {
    if (this.apiDown) throw this.apiDown;
    let text: string;
    try {
      text = await readFile(this.o.netConfigPath, 'utf8');
    } catch (err) {
      throw new UserError(
        '--net-config-path',
        `cannot read ${this.o.netConfigPath}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
        'in kube mode the network config (net-conf.json) comes from this file, usually the kube-flannel-cfg ConfigMap mounted at /etc/kube-flannel/',
      );
    }
    const config = this.netConf.read(text);
    if (config.enableIPv4 && !config.network) throw new UserError('Network', 'missing in net-conf.json', 'give the cluster pod network, e.g. "10.244.0.0/16"');
    if (config.enableIPv6 && !config.ipv6Network) throw new UserError('IPv6Network', 'missing in net-conf.json', 'give the cluster IPv6 pod network');
    this.families = { ipv4: config.enableIPv4, ipv6: config.enableIPv6 };
    return config;
  }

  /**
   * Go's AcquireLease: wait for our Node and its pod CIDR, write our annotations when they differ, and
   * return the lease of the pod CIDR, which must lie inside the network of net-conf.json.
   */
  async acquireLease(attrs: LeaseAttrs, signal: AbortSignal): Promise<Lease> {
    const config = await this.getNetworkConfig(signal);
    const view = await this.waitForPodCIDR(signal);
    const subnets = podSubnets(view);
    const lease: Lease = { attrs };
    const dualCapable = ['vxlan', 'host-gw', 'wireguard'].includes(attrs.backendType ?? '');
    if (config.enableIPv4) lease.subnet = checkedPodSubnet(view, 4, config.network!, subnets.v4);
    if (config.enableIPv6 && (dualCapable || !config.enableIPv4)) lease.ipv6Subnet = checkedPodSubnet(view, 6, config.ipv6Network!, subnets.v6);
    await this.writeAnnotations(view, attrs, signal);
    this.ours = attrs;
    return lease;
  }

  /** Our Node's current lease (its VTEP MAC for vxlan), whatever public IP it carries; undefined if unreadable. */
  async lookupLease(_attrs: LeaseAttrs, signal: AbortSignal): Promise<Lease | undefined> {
    try {
      const view = nodeView(await this.api.getNode(this.o.nodeName, signal), this.o.annotations);
      const ann = this.o.annotations;
      const attrs: LeaseAttrs = {};
      for (const [key, field] of [
        [ann.backendData, 'backendData'],
        [ann.backendV6Data, 'backendV6Data'],
      ] as const) {
        const text = view.annotations[key];
        if (!text) continue;
        try {
          const data = JSON.parse(text);
          if (data !== null) attrs[field] = data;
        } catch {
          this.logger.warn({ node: view.name, annotation: key }, 'our node annotation is not JSON; ignoring it');
        }
      }
      return { attrs };
    } catch (err) {
      this.logger.warn({ node: this.o.nodeName, err: (err as Error).message }, 'cannot read our node to reuse its backend data');
      return undefined;
    }
  }

  /** There is no lease renewal in kube mode: the Node is ours as long as it exists. */
  renewLease(lease: Lease): Promise<Lease> {
    return Promise.resolve({ ...lease });
  }

  /** Every flannel node's lease: a snapshot after each (re)list, then an event when a node's lease changes. */
  watchLeases(): Observable<LeaseWatchResult> {
    return this.informer.updates().pipe(
      map((u) => this.toWatchResult(u)),
      filter((r): r is LeaseWatchResult => r !== undefined),
    );
  }

  /**
   * Marks the node's network available (NetworkUnavailable=False, reason FlannelIsUp), then holds the
   * lease until `signal` aborts: annotations someone changes or removes are written again (so a new
   * public-ip-overwrite moves our public IP), and a Node deleted and made again with another pod CIDR
   * ends the lease (LeaseRevokedError), since our subnet is no longer ours.
   */
  async completeLease(lease: Lease, signal: AbortSignal): Promise<void> {
    if (this.o.setNodeNetworkUnavailable) await this.markNetworkAvailable(signal);
    if (signal.aborted) return;
    await new Promise<void>((resolve, reject) => {
      let busy: Promise<void> = Promise.resolve();
      let latest: NodeView | undefined;
      const sub = new Subscription();
      const done = (err?: Error) => {
        sub.unsubscribe();
        signal.removeEventListener('abort', onAbort);
        if (err) reject(err);
        else resolve();
      };
      const onAbort = () => done();
      signal.addEventListener('abort', onAbort, { once: true });
      const check = (view: NodeView) => {
        latest = view;
        busy = busy.then(async () => {
          if (latest !== view || signal.aborted) return;
          const revoked = this.changedSubnet(lease, view);
          if (revoked) return done(revoked);
          await this.writeAnnotations(view, this.ours ?? lease.attrs, signal).catch((err: Error) =>
            this.logger.error({ node: view.name, err: err.message }, 'cannot write our node annotations again'),
          );
        });
      };
      sub.add(
        this.informer.updates().subscribe({
          next: (u) => {
            if (u.kind === 'snapshot') {
              const own = u.nodes.find((n) => n.name === this.o.nodeName);
              if (own) check(own);
              return;
            }
            for (const c of u.changes) {
              if (c.node.name !== this.o.nodeName) continue;
              if (c.type === 'delete') this.logger.warn({ node: c.node.name }, 'our Node object was deleted; waiting for it to come back');
              else check(c.node);
            }
          },
          error: (err: Error) => done(err),
        }),
      );
      if (signal.aborted) done();
    });
  }

  /** The node-public-ip annotations of our Node (Go's GetStoredPublicIP); nothing when unreadable. */
  async storedPublicIP(signal: AbortSignal): Promise<StoredPublicIP> {
    const ann = this.o.annotations;
    try {
      const node = await this.api.getNode(this.o.nodeName, signal);
      const a = node.metadata.annotations ?? {};
      const out: StoredPublicIP = {};
      for (const [key, family, field] of [
        [ann.nodePublicIP, 4, 'publicIP'],
        [ann.nodePublicIPv6, 6, 'publicIPv6'],
      ] as const) {
        const text = a[key];
        if (!text) continue;
        const ip = IP.tryParse(text);
        if (!ip || ip.family !== family) {
          this.logger.warn({ node: this.o.nodeName, annotation: key, value: text }, `node annotation is not an IPv${family} address; ignoring it`);
          continue;
        }
        out[field] = ip;
        this.logger.info({ node: this.o.nodeName, annotation: key, ip: text }, 'using the public IP from the node annotation');
      }
      return out;
    } catch (err) {
      this.logger.warn({ node: this.o.nodeName, err: (err as Error).message }, 'cannot read the node-public-ip annotations of our node');
      return {};
    }
  }

  /** Our Node, once it has a pod CIDR: kube-controller-manager gives it one; we only wait, saying what for. */
  private async waitForPodCIDR(signal: AbortSignal): Promise<NodeView> {
    const name = this.o.nodeName;
    const view = await retryWithBackoff(
      async (s) => {
        let node;
        try {
          node = await this.api.getNode(name, s);
        } catch (err) {
          if (isForbidden(err)) throw rbacError('get', 'nodes', err as Error);
          if (isNotFound(err)) throw new WaitingError(`node "${name}" is not in the Kubernetes API yet (is NODE_NAME right?)`);
          throw err;
        }
        const v = nodeView(node, this.o.annotations);
        if (v.podCIDRs.length === 0) {
          throw new WaitingError(
            `node "${name}" pod cidr not assigned: flannel never allocates in kube mode; run kube-controller-manager with --allocate-node-cidrs and --cluster-cidr (kubeadm: --pod-network-cidr), or set the Node's spec.podCIDR`,
          );
        }
        return v;
      },
      signal,
      {
        clock: this.o.clock,
        initialMs: 1000,
        maxMs: 30_000,
        onError: (err, retryInMs) => {
          if (err instanceof UserError) throw err;
          this.logger.warn({ node: name, err: (err as Error).message, retryInMs }, 'waiting for our node');
        },
      },
    );
    if (!view) throw signal.reason ?? new Error('aborted');
    return view;
  }

  /** The strategic-merge patch of nodes/status that Go sends, when our annotations differ from the node's. */
  private async writeAnnotations(view: NodeView, attrs: LeaseAttrs, signal: AbortSignal): Promise<void> {
    const write = annotationsToWrite(view.annotations, attrs, this.o.annotations);
    if (!write) return;
    const overwrite = view.annotations[this.o.annotations.backendPublicIPOverwrite];
    if (overwrite) this.logger.info({ node: view.name, publicIP: overwrite }, `overriding public ip with '${overwrite}' from node annotation`);
    await this.patchStatus({ metadata: { annotations: write } }, 'annotations', signal);
    this.logger.info({ node: view.name, annotations: write }, 'wrote our node annotations');
  }

  private async markNetworkAvailable(signal: AbortSignal): Promise<void> {
    try {
      await this.patchStatus(networkAvailablePatch(this.o.clock.now()), 'the NetworkUnavailable condition', signal);
      this.logger.info({ node: this.o.nodeName }, 'set NetworkUnavailable=False (FlannelIsUp) on our node');
    } catch (err) {
      // Go only logs this: pods are scheduled here all the same once the node is Ready.
      this.logger.error({ node: this.o.nodeName, err: (err as Error).message }, 'cannot set the NetworkUnavailable condition');
    }
  }

  private async patchStatus(patch: object, what: string, signal: AbortSignal): Promise<void> {
    await retryWithBackoff(
      async (s) => {
        try {
          await this.api.patchNodeStatus(this.o.nodeName, patch, s);
        } catch (err) {
          if (isForbidden(err)) throw rbacError('patch', 'nodes/status', err as Error);
          throw err;
        }
      },
      signal,
      {
        clock: this.o.clock,
        initialMs: 1000,
        maxMs: 30_000,
        onError: (err, retryInMs) => {
          if (err instanceof UserError) throw err;
          this.logger.warn({ node: this.o.nodeName, err: (err as Error).message, retryInMs }, `cannot patch ${what} of our node; retrying`);
        },
      },
    );
  }

  /** A Node made again with another pod CIDR: our lease is gone. */
  private changedSubnet(lease: Lease, view: NodeView): LeaseRevokedError | undefined {
    if (view.podCIDRs.length === 0) return undefined;
    let now;
    try {
      now = podSubnets(view);
    } catch {
      return undefined;
    }
    const moved = (lease.subnet && !lease.subnet.equals(now.v4)) || (lease.ipv6Subnet && !lease.ipv6Subnet.equals(now.v6));
    if (!moved) return undefined;
    this.logger.error({ node: view.name, was: String(lease.subnet ?? lease.ipv6Subnet), now: view.podCIDRs.join(',') }, 'our node has another pod CIDR now');
    return new LeaseRevokedError(String(lease.subnet ?? lease.ipv6Subnet));
  }

  private toWatchResult(u: InformerUpdate): LeaseWatchResult | undefined {
    const families = this.families ?? { ipv4: true, ipv6: false };
    if (u.kind === 'snapshot') {
      return { kind: 'snapshot', snapshot: u.nodes.flatMap((n) => this.leaseOf(n, families) ?? []), cursor: u.resourceVersion };
    }
    const events: LeaseEvent[] = [];
    for (const c of u.changes) {
      const before = c.old && this.leaseOf(c.old, families, true);
      if (c.type === 'delete') {
        if (before) events.push({ type: 'removed', lease: before });
        continue;
      }
      if (c.old && sameLeaseAnnotations(c.old, c.node, this.o.annotations)) continue;
      const after = this.leaseOf(c.node, families);
      if (after) events.push({ type: 'added', lease: after });
      else if (before) events.push({ type: 'removed', lease: before });
    }
    return events.length ? { kind: 'events', events } : undefined;
  }

  private leaseOf(view: NodeView, families: Families, quiet = false): Lease | undefined {
    try {
      return nodeToLease(view, this.o.annotations, families);
    } catch (err) {
      if (!quiet) this.logger.warn({ node: view.name, err: (err as Error).message }, 'skipping a node whose flannel lease cannot be read');
      return undefined;
    }
  }
}

const POD_FAMILY = {
  4: { name: 'IPv4', field: 'Network', enable: 'EnableIPv4', cluster: 'the cluster CIDR (kube-controller-manager --cluster-cidr)' },
  6: { name: 'IPv6', field: 'IPv6Network', enable: 'EnableIPv6', cluster: 'the cluster IPv6 CIDR' },
} as const;

/** The node's pod CIDR of one family, which must exist and lie inside net-conf.json's network of that family. */
function checkedPodSubnet(view: NodeView, family: 4 | 6, network: IPNet, subnet: IPNet | undefined): IPNet {
  const f = POD_FAMILY[family];
  if (!subnet) {
    throw new UserError(
      'spec.podCIDRs',
      `node "${view.name}" has no ${f.name} pod CIDR (${view.podCIDRs.join(', ')})`,
      `give the node one, or disable ${f.enable}`,
    );
  }
  if (!containsCIDR(network, subnet)) {
    throw new UserError(
      f.field,
      `subnet "${String(network)}" specified in the flannel net config doesn't contain "${String(subnet)}" PodCIDR of the "${view.name}" node`,
      `make net-conf.json's ${f.field} ${f.cluster}`,
    );
  }
  return subnet;
}

/** A condition we wait out (no node yet, no pod CIDR yet): said at each retry. */
class WaitingError extends Error {}

function rbacError(verb: string, resource: string, err: Error): UserError {
  return new UserError(
    'RBAC',
    `the Kubernetes API refused to ${verb} ${resource}: ${err.message}`,
    `give flannel's ServiceAccount a ClusterRole with "${verb}" on "${resource}" (deploy/kube-flannel-ts.yml has the role flannel needs)`,
  );
}
