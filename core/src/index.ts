/**
 * @flannel-ts/core: the plugin SDK. A backend package imports only from here, from
 * `@flannel-ts/core/netlink` (requests and kernel types) and `@flannel-ts/core/ip`, and in its tests from
 * `@flannel-ts/core/testing`. What flanneld itself needs beyond this lives in `@flannel-ts/core/internal`,
 * which no plugin may use. `core/api/core.api.md` records this surface; a change to it shows in review.
 */
import 'reflect-metadata';

// Contracts
export type { Backend } from './contracts/backend.js';
export { BACKEND_CONTRACT_VERSION, BackendDescriptor, KernelResyncMs, type BackendContext, type CleanupContext } from './contracts/backend-plugin.js';
export { Clock } from './contracts/clock.js';
export type { Dataplane, DeviceCheck, KernelWatch, PeerPlan } from './contracts/dataplane.js';
export { ExternalInterface } from './contracts/external-interface.js';
export type { JsonValue, Lease, LeaseAttrs, LeaseEvent, LeaseEventType, LeaseWatchResult } from './contracts/lease.js';
export { Logger } from './contracts/logger.js';
export { Netlink, type OpResult } from './contracts/netlink.js';
export type { DataplaneDiff, DiffEntry, Network, NetworkStats, NetworkStatus, PeerStatus, PeerTraffic } from './contracts/network.js';
export { ReconcilerObserver } from './contracts/observer.js';
export type { NetworkConfig } from './contracts/network-config.js';
export { FLANNEL_ROUTE_PROTOCOL } from './contracts/route-protocol.js';
export { LeaseRevokedError, SubnetManager } from './contracts/subnet-manager.js';

// Writing a backend
export { backendModule, defineBackend } from './plugin/define-backend.js';
export { contractMismatch, parseContractVersion } from './plugin/contract-version.js';
export { removeLinks } from './plugin/remove-links.js';
export { backendFieldParsers, foldKeys, type BackendFieldParsers, type FoldedFields } from './config/json-fields.js';
// Watching leases yourself (a backend whose data path is not kernel entries): the engine's semantics
export { LeaseWatcher } from './lease/lease-watcher.js';
export { isUserError, UserError } from './errors/user-error.js';
export { IP, type IPFamily } from './ip/ip.js';
export { IPNet } from './ip/ipnet.js';
export { MAC } from './ip/mac.js';

// The reconciliation engine
export { reconciledNetwork, type ReconciledNetworkOptions } from './reconcile/reconciled-network.js';
export { DEFAULT_TIMING, type ReconcilerTiming } from './reconcile/reconciler.js';
export { diffEntries, type DiffOptions, type KernelEntry } from './reconcile/kernel-entry.js';
export { fdbEntry, neighEntry, nexthopEntry, RANK, routeEntry } from './reconcile/entries.js';
export { ConnectedNets } from './netlink/connected-nets.js';

// Retries and periodic work, driven by a Clock
export { Backoff, every, retryBackoff, retryWithBackoff, type BackoffOptions, type RetryOptions } from './util/retry.js';
