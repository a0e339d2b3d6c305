import { ContainerModule } from 'inversify';
import { Clock } from '../contracts/clock.js';
import { Logger } from '../contracts/logger.js';
import { SubnetManager } from '../contracts/subnet-manager.js';
import { readSubnetFile, type PreviousSubnetEnv } from '../subnet-file/subnet-env.js';
import type { EtcdConfig } from './etcd/etcd-options.js';
import { DEFAULT_ANNOTATION_PREFIX } from './kube/annotations.js';
import type { KubeStoreOptions } from './kube/create.js';
import type { KubeSubnetManager, StoredPublicIP } from './kube/kube-subnet-manager.js';
import type { LeaseRegistry } from './registry.js';
import { StoreSubnetManager } from './store-subnet-manager.js';

export type StoreKind = 'etcd' | 'embedded' | 'kube';

export interface StoreOptions {
  kind: StoreKind;
  etcd: EtcdConfig;
  embeddedStorePath: string;
  netConfigPath: string;
  /** subnet.env: the previous run's subnet is tried first. */
  subnetFile: string;
  renewMarginMinutes: number;
  /** Kube mode's settings (--kube-api-url, --kubeconfig-file, --kube-annotation-prefix, ...). */
  kube?: KubeStoreOptions;
}

/** What subnet.env said before this run (undefined on a first start). */
export interface PreviousRun {
  subnetEnv: PreviousSubnetEnv | undefined;
}
export const PreviousRun = Symbol.for('flannel-ts.PreviousRun');

/**
 * The public addresses the store keeps for this node, which override --public-ip and --public-ipv6 (kube:
 * the node-public-ip annotations, as Go's GetStoredPublicIP; the other stores keep none).
 */
export type StoredPublicIPReader = (signal: AbortSignal) => Promise<StoredPublicIP>;
export const StoredPublicIPReader = Symbol.for('flannel-ts.StoredPublicIPReader');
export type { StoredPublicIP };

const KubeStore = Symbol.for('flannel-ts.KubeStore');

/**
 * The lease store the flags ask for, as the SubnetManager service. Resolved asynchronously and only when
 * something needs it: the etcd client (node:http2 and our own protobuf code) is imported only in etcd mode, and
 * the Kubernetes client only in kube mode.
 * Unbinding the container closes the store.
 */
export function storeModule(o: StoreOptions): ContainerModule {
  return new ContainerModule(({ bind }) => {
    bind<PreviousRun>(PreviousRun)
      .toDynamicValue(async (ctx) => {
        const logger = ctx.get<Logger>(Logger);
        const warn = (w: object) => logger.warn({ file: o.subnetFile, ...w }, 'ignoring an entry of the previous subnet file');
        return { subnetEnv: await readSubnetFile(o.subnetFile, warn) };
      })
      .inSingletonScope();
    if (o.kind === 'kube') {
      // @kubernetes/client-node is imported only here, in kube mode.
      bind<KubeSubnetManager>(KubeStore)
        .toDynamicValue(async (ctx) => {
          const { createKubeSubnetManager } = await import('./kube/create.js');
          const kube = o.kube ?? { apiUrl: '', kubeconfigFile: '', annotationPrefix: DEFAULT_ANNOTATION_PREFIX, setNodeNetworkUnavailable: true };
          return createKubeSubnetManager({ ...kube, netConfigPath: o.netConfigPath }, ctx.get<Logger>(Logger), ctx.get<Clock>(Clock));
        })
        .inSingletonScope()
        .onDeactivation((m) => m.close());
      bind<SubnetManager>(SubnetManager)
        .toDynamicValue((ctx) => ctx.getAsync<KubeSubnetManager>(KubeStore))
        .inSingletonScope();
      bind<StoredPublicIPReader>(StoredPublicIPReader).toDynamicValue(async (ctx) => {
        const manager = await ctx.getAsync<KubeSubnetManager>(KubeStore);
        return (signal) => manager.storedPublicIP(signal);
      });
      return;
    }
    bind<StoredPublicIPReader>(StoredPublicIPReader).toConstantValue(() => Promise.resolve({}));
    bind<SubnetManager>(SubnetManager)
      .toDynamicValue(async (ctx) => {
        const logger = ctx.get<Logger>(Logger);
        const clock = ctx.get<Clock>(Clock);
        const { subnetEnv } = await ctx.getAsync<PreviousRun>(PreviousRun);
        const registry = await openRegistry(o, logger, clock);
        return new StoreSubnetManager(registry, logger, {
          renewMarginMinutes: o.renewMarginMinutes,
          clock,
          ...(subnetEnv?.subnet ? { previousSubnet: subnetEnv.subnet } : {}),
          ...(subnetEnv?.ipv6Subnet ? { previousIPv6Subnet: subnetEnv.ipv6Subnet } : {}),
        });
      })
      .inSingletonScope()
      .onDeactivation((m) => (m as StoreSubnetManager).close());
  });
}

async function openRegistry(o: StoreOptions, logger: Logger, clock: Clock): Promise<LeaseRegistry> {
  switch (o.kind) {
    case 'embedded': {
      const { EmbeddedRegistry } = await import('./embedded/embedded-registry.js');
      return new EmbeddedRegistry(o.embeddedStorePath, o.netConfigPath, logger, clock);
    }
    default: {
      const [{ EtcdRegistry }, { etcdClientOptions }] = await Promise.all([import('./etcd/etcd-registry.js'), import('./etcd/etcd-options.js')]);
      return new EtcdRegistry(etcdClientOptions(o.etcd, logger), o.etcd.prefix, logger);
    }
  }
}
