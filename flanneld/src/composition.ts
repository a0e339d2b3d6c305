import { Container, ContainerModule } from 'inversify';
import { Clock, KernelResyncMs, Logger, ReconcilerObserver, SubnetManager, type BackendDescriptor } from '@flannel-ts/core';
import { coreModule, rulesModule, storeModule } from '@flannel-ts/core/internal';
import { dirname } from 'node:path';
import { BackendSource, backendsModule, type BUILTIN_BACKENDS, PluginSearch } from '@flannel-ts/backends';
import { NodeCleanup } from './cleanup.js';
import { DaemonState } from './daemon-state.js';
import { Flanneld } from './flanneld.js';
import { HealthServer } from './healthz.js';
import { DaemonMetrics } from './metrics.js';
import { FlanneldOptions } from './options.js';
import { NetAdminCheck, netAdminCheck } from './privileges.js';
import { ObservedSubnetManager, OutageTracker, type StoreIdentity } from './store-monitor.js';

/**
 * The backends that ship with flanneld; any other Backend.Type is looked up as a plugin package. Each is
 * imported when net-conf names it (in the bundle, each is its own chunk): evaluating all seven, with the
 * ipsec and udp backends' dependencies, took ~10 ms of every start.
 */
const BUILTIN_IMPORTS = {
  vxlan: async () => (await import('@flannel-ts/vxlan')).backend,
  'host-gw': async () => (await import('@flannel-ts/host-gw')).backend,
  ipip: async () => (await import('@flannel-ts/ipip')).backend,
  udp: async () => (await import('@flannel-ts/udp')).backend,
  ipsec: async () => (await import('@flannel-ts/ipsec')).backend,
  extension: async () => (await import('@flannel-ts/extension')).backend,
  wireguard: async () => (await import('@flannel-ts/wireguard')).backend,
} satisfies Record<(typeof BUILTIN_BACKENDS)[number], () => Promise<BackendDescriptor>>;
const builtinSources: BackendSource[] = Object.entries(BUILTIN_IMPORTS).map(([name, load]) => ({ name, load }));

/** Which store the flags chose, where it is, and the flag that says so (for the outage warning). */
export function storeIdentity(opts: FlanneldOptions): StoreIdentity {
  switch (opts.store) {
    case 'embedded':
      return { kind: 'embedded', endpoint: opts.embeddedStorePath, flag: '--embedded-store-path' };
    case 'kube':
      return { kind: 'kube', endpoint: 'the Kubernetes API', flag: '--kube-api-url' };
    default:
      return { kind: 'etcd', endpoint: opts.etcd.endpoints, flag: '--etcd-endpoints' };
  }
}

function flanneldModule(opts: FlanneldOptions, version: string, bundled: Record<string, string> | undefined): ContainerModule {
  return new ContainerModule(({ bind }) => {
    bind<FlanneldOptions>(FlanneldOptions).toConstantValue(opts);
    bind(DaemonMetrics).toSelf();
    bind<ReconcilerObserver>(ReconcilerObserver).toService(DaemonMetrics);
    // Unset, a backend's own period stands (core's engine default, 60 s, for the built-in ones).
    if (opts.kernelResyncSeconds > 0) bind<number>(KernelResyncMs).toConstantValue(opts.kernelResyncSeconds * 1000);
    bind(DaemonState)
      .toSelf()
      .onActivation((_ctx, state) => {
        const id = storeIdentity(opts);
        state.version = version;
        state.store = { kind: id.kind, endpoint: id.endpoint, reachable: true };
        return state;
      });
    bind(OutageTracker).toDynamicValue(
      (ctx) => new OutageTracker(storeIdentity(opts), ctx.get<Logger>(Logger), ctx.get<Clock>(Clock), ctx.get(DaemonMetrics), ctx.get(DaemonState)),
    );
    bind<() => void>(NetAdminCheck).toConstantValue(netAdminCheck);
    bind(HealthServer).toSelf();
    bind(Flanneld).toSelf();
    bind(NodeCleanup).toSelf();
    for (const source of builtinSources) bind<BackendSource>(BackendSource).toConstantValue(source);
    // A relative Backend.Type path starts from the net-conf file's folder; an etcd config has none.
    bind<PluginSearch>(PluginSearch).toConstantValue({
      dirs: opts.pluginDirs,
      relativeTo: opts.store === 'etcd' ? undefined : dirname(opts.netConfigPath),
      shareCore: { bundled },
    });
  });
}

/**
 * The composition root: one container, built once, from each package's module. Services are singletons
 * and are created when first needed, so `--cleanup` never connects to a store and etcd's client is
 * loaded only in etcd mode. Unbinding the container (`unbindAllAsync`) closes the netlink socket and the
 * store. The subnet manager is wrapped where it is made, so that the backend's calls are counted too.
 */
export function flanneldContainer(opts: FlanneldOptions, logger: Logger, version = 'v0.0.0', bundled?: Record<string, string>): Container {
  const container = new Container({ defaultScope: 'Singleton' });
  container.load(
    coreModule({ logger }),
    storeModule({
      kind: opts.store,
      etcd: opts.etcd,
      kube: opts.kube,
      embeddedStorePath: opts.embeddedStorePath,
      netConfigPath: opts.netConfigPath,
      subnetFile: opts.subnetFile,
      renewMarginMinutes: opts.renewMarginMinutes,
    }),
    rulesModule,
    backendsModule,
    flanneldModule(opts, version, bundled),
  );
  container.onActivation<SubnetManager>(
    SubnetManager,
    (ctx, manager) => new ObservedSubnetManager(manager, ctx.get(DaemonMetrics), ctx.get(OutageTracker), ctx.get(DaemonState)),
  );
  return container;
}
