/**
 * @flannel-ts/core public API. Backend packages import only from here (and `@flannel-ts/core/testing`
 * in their tests); everything else in core is internal.
 */
import 'reflect-metadata';

export type { Backend } from './contracts/backend.js';
export {
  BACKEND_CONTRACT_VERSION,
  defineBackend,
  type BackendContext,
  type BackendDescriptor,
} from './contracts/backend-plugin.js';
export { Clock, systemClock } from './contracts/clock.js';
export { ExternalInterface } from './contracts/external-interface.js';
export type { JsonValue, Lease, LeaseAttrs, LeaseEvent, LeaseEventType, LeaseWatchResult } from './contracts/lease.js';
export { Logger } from './contracts/logger.js';
export type { Network, NetworkStats } from './contracts/network.js';
export type { NetworkConfig } from './contracts/network-config.js';
export { LeaseRevokedError, SubnetManager } from './contracts/subnet-manager.js';

export { checkNetworkConfig, DEFAULT_BACKEND_TYPE, loadNetConfig, parseNetConfig, type ParseOptions } from './config/net-conf.js';
export { foldKeys } from './config/json-fields.js';
export { coreModule, createContainer, type CoreModuleOptions } from './di/core-module.js';
export { isUserError, UserError } from './errors/user-error.js';
export { IP, type IPFamily } from './ip/ip.js';
export { IPNet } from './ip/ipnet.js';
export { MAC } from './ip/mac.js';
export { decodeLeaseAttrs, encodeLeaseAttrs, LeaseAttrsError, sameLeaseAttrs } from './lease/lease-attrs-json.js';
export { toLeaseEvents } from './lease/lease-events.js';
export { LeaseWatcher, sameSubnet } from './lease/lease-watcher.js';
export { isSubnetKey, makeSubnetKey, parseSubnetKey, type SubnetKey } from './lease/subnet-key.js';
export { createLogger, LOG_LEVELS } from './log/logger.js';
export {
  DEFAULT_SUBNET_FILE,
  formatSubnetEnv,
  parseCIDRList,
  parseEnvText,
  readSubnetFile,
  writeSubnetFile,
  type PreviousSubnetEnv,
  type ReadWarning,
  type SubnetEnv,
} from './subnet-file/subnet-env.js';
export type { LeaseRegistry, RegistryChange, RegistryUpdate, StoredSubnet } from './subnet/registry.js';
export { LEASE_TTL_SECONDS, RACE_RETRIES, StoreSubnetManager, type StoreSubnetManagerOptions } from './subnet/store-subnet-manager.js';
export { EtcdRegistry } from './subnet/etcd/etcd-registry.js';
export { DEFAULT_ETCD_ENDPOINTS, DEFAULT_ETCD_PREFIX, etcdClientOptions, type EtcdConfig } from './subnet/etcd/etcd-options.js';
export { Backoff, sleep } from './util/backoff.js';
export { DEFAULT_EMBEDDED_STORE, EmbeddedRegistry } from './subnet/embedded/embedded-registry.js';
export { applyBatched, logFailures, OPS_PER_CHUNK } from './reconcile/apply-batched.js';
export { ReconcileLoop } from './reconcile/reconcile-loop.js';
export { FLANNEL_ROUTE_PROTOCOL } from './contracts/route-protocol.js';
export { BackendManagerToken, type BackendLookup } from './daemon/backend-lookup.js';
export { selectExternalInterface, type InterfaceQuery, type Selection } from './daemon/select-interface.js';
export { reconcileOnKernelChanges, untilAborted, type KernelWatchOptions } from './reconcile/kernel-watch.js';
export { CommandRunner, execRunner, type CommandResult } from './rules/command-runner.js';
export { removeAllTrafficRules, TrafficManager, type TrafficOptions } from './rules/traffic-manager.js';
export type { FamilyNets } from './rules/rule-sets.js';
