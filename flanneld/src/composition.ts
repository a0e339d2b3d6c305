import { Container, ContainerModule } from 'inversify';
import { type Logger } from '@flannel-ts/core';
import { coreModule, rulesModule, storeModule } from '@flannel-ts/core/internal';
import { backendsModule } from '@flannel-ts/backends';
import { containerModule as hostGw } from '@flannel-ts/host-gw';
import { containerModule as ipip } from '@flannel-ts/ipip';
import { containerModule as ipsec } from '@flannel-ts/ipsec';
import { containerModule as udp } from '@flannel-ts/udp';
import { containerModule as vxlan } from '@flannel-ts/vxlan';
import { NodeCleanup } from './cleanup.js';
import { Flanneld } from './flanneld.js';
import { HealthServer } from './healthz.js';
import { DaemonMetrics } from './metrics.js';
import { FlanneldOptions } from './options.js';

/** The backends that ship with flanneld; any other Backend.Type is looked up as a plugin package. */
const BUILTIN_BACKEND_MODULES = [vxlan, hostGw, ipip, udp, ipsec];

function flanneldModule(opts: FlanneldOptions): ContainerModule {
  return new ContainerModule(({ bind }) => {
    bind<FlanneldOptions>(FlanneldOptions).toConstantValue(opts);
    bind(DaemonMetrics).toSelf();
    bind(HealthServer).toSelf();
    bind(Flanneld).toSelf();
    bind(NodeCleanup).toSelf();
  });
}

/**
 * The composition root: one container, built once, from each package's module. Services are singletons
 * and are created when first needed, so `--cleanup` never connects to a store and etcd's client is
 * loaded only in etcd mode. Unbinding the container (`unbindAllAsync`) closes the netlink socket and the
 * store.
 */
export function flanneldContainer(opts: FlanneldOptions, logger: Logger): Container {
  const container = new Container({ defaultScope: 'Singleton' });
  container.load(
    coreModule({ logger }),
    storeModule({
      kind: opts.store,
      etcd: opts.etcd,
      embeddedStorePath: opts.embeddedStorePath,
      netConfigPath: opts.netConfigPath,
      subnetFile: opts.subnetFile,
      renewMarginMinutes: opts.renewMarginMinutes,
    }),
    rulesModule,
    backendsModule,
    ...BUILTIN_BACKEND_MODULES,
    flanneldModule(opts),
  );
  return container;
}
