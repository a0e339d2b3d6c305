/**
 * @flannel-ts/core/internal: what the flanneld application (and the integration tests) use beyond the
 * plugin SDK. Backend packages must not import it; `npm run lint` enforces that. It carries no promise
 * of stability between releases.
 */
import 'reflect-metadata';

export { checkNetworkConfig, DEFAULT_BACKEND_TYPE, loadNetConfig, parseNetConfig, type ParseOptions } from './config/net-conf.js';
export { coreModule, type CoreModuleOptions } from './di/core-module.js';
export { decodeLeaseAttrs, encodeLeaseAttrs, LeaseAttrsError, sameLeaseAttrs } from './lease/lease-attrs-json.js';
export { toLeaseEvents } from './lease/lease-events.js';
export { LeaseWatcher, sameSubnet } from './lease/lease-watcher.js';
export { isSubnetKey, makeSubnetKey, parseSubnetKey, type SubnetKey } from './lease/subnet-key.js';
export { createLogger, defaultLogFormat, formatLogLine, LOG_FORMATS, LOG_LEVELS, type LogFormat } from './log/logger.js';
export { applyBatched, logFailures, OPS_PER_CHUNK } from './reconcile/apply-batched.js';
export { Reconciler, peerKey, type ReconcilerDeps } from './reconcile/reconciler.js';
export { CommandRunner, execRunner, type CommandResult } from './rules/command-runner.js';
export { rulesModule } from './rules/rules-module.js';
export { listTrafficRules, removeAllTrafficRules, TrafficManager, type TrafficOptions } from './rules/traffic-manager.js';
export type { FamilyNets } from './rules/rule-sets.js';
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
export { DEFAULT_EMBEDDED_STORE, DEFAULT_ETCD_ENDPOINTS, DEFAULT_ETCD_PREFIX } from './subnet/store-defaults.js';
export type { EtcdConfig } from './subnet/etcd/etcd-options.js';
export { PreviousRun, storeModule, StoredPublicIPReader, type StoredPublicIP, type StoreKind, type StoreOptions } from './subnet/store-module.js';
export { DEFAULT_ANNOTATION_PREFIX, kubeAnnotations, type KubeAnnotations } from './subnet/kube/annotations.js';
export type { KubeStoreOptions } from './subnet/kube/create.js';
export { sleep, systemClock } from './util/system-clock.js';
