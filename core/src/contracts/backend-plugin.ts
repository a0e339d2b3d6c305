import type { Backend } from './backend.js';
import type { Clock } from './clock.js';
import type { ExternalInterface } from './external-interface.js';
import type { Logger } from './logger.js';
import type { Netlink } from './netlink.js';
import type { ReconcilerObserver } from './observer.js';
import type { SubnetManager } from './subnet-manager.js';

/**
 * The version of the backend contract (Backend, Network, SubnetManager, Lease, Dataplane, Netlink and
 * BackendContext) that this core implements. It changes only when a change would break an existing
 * plugin; the loader refuses a plugin built for another version instead of letting it fail at run time.
 */
export const BACKEND_CONTRACT_VERSION = 1;

/** What flanneld hands a backend when it builds it. */
export interface BackendContext {
  subnetManager: SubnetManager;
  extIface: ExternalInterface;
  logger: Logger;
  clock: Clock;
  /** rtnetlink in flanneld's network namespace; backends batch their kernel changes through it. */
  netlink: Netlink;
  /**
   * Where core's engine reports what it does (flanneld's metrics). Backends pass the context on to
   * reconciledNetwork and need not look at it; absent in older hosts and in tests.
   */
  observer?: ReconcilerObserver;
}

/**
 * What a backend package exports (as `backend`, or as its default export). Built-in backends and
 * third-party ones are the same kind of package.
 */
export interface BackendDescriptor {
  /** The Backend.Type it serves, lower case; it is also written into the lease's BackendType. */
  readonly name: string;
  /** The BACKEND_CONTRACT_VERSION it was built against. */
  readonly contractVersion: number;
  create(ctx: BackendContext): Backend | Promise<Backend>;
}
/** The multi-bound token under which a package's ContainerModule registers its descriptor. */
export const BackendDescriptor = Symbol.for('flannel-ts.BackendDescriptor');
