import type { Logger } from '../contracts/logger.js';
import { UserError } from '../errors/user-error.js';
import type { PreviousSubnetEnv } from '../subnet-file/subnet-env.js';
import { EmbeddedRegistry } from '../subnet/embedded/embedded-registry.js';
import { etcdClientOptions } from '../subnet/etcd/etcd-options.js';
import { EtcdRegistry } from '../subnet/etcd/etcd-registry.js';
import type { LeaseRegistry } from '../subnet/registry.js';
import { StoreSubnetManager } from '../subnet/store-subnet-manager.js';
import type { FlanneldOptions } from './options.js';

/** Step 3 of the startup sequence: the store the flags ask for, seeded with the previous subnet from subnet.env. */
export function createSubnetManager(
  opts: FlanneldOptions,
  previous: PreviousSubnetEnv | undefined,
  logger: Logger,
): { manager: StoreSubnetManager; registry: LeaseRegistry } {
  let registry: LeaseRegistry;
  switch (opts.store) {
    case 'kube':
      throw new UserError('-kube-subnet-mgr', 'the Kubernetes subnet manager is not available in this flannel-ts release yet', 'use etcd (-etcd-endpoints) or -embedded-subnet-mgr');
    case 'embedded':
      registry = new EmbeddedRegistry(opts.embeddedStorePath, opts.netConfigPath, logger);
      break;
    default:
      registry = new EtcdRegistry(etcdClientOptions(opts.etcd, logger), opts.etcd.prefix, logger);
  }
  const manager = new StoreSubnetManager(registry, logger, {
    renewMarginMinutes: opts.renewMarginMinutes,
    ...(previous?.subnet ? { previousSubnet: previous.subnet } : {}),
    ...(previous?.ipv6Subnet ? { previousIPv6Subnet: previous.ipv6Subnet } : {}),
  });
  return { manager, registry };
}
