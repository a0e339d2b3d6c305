import type { Backend } from './backend.js';
import type { Clock } from './clock.js';
import type { ExternalInterface } from './external-interface.js';
import type { Logger } from './logger.js';
import type { Netlink } from './netlink.js';
import type { ReconcilerObserver } from './observer.js';
import type { SubnetManager } from './subnet-manager.js';

/**
 * The version of the backend contract (Backend, Network, SubnetManager, Lease, Dataplane, Netlink and
 * BackendContext) this core implements, as "major.minor". A minor release only adds (optional fields,
 * new helpers), so a plugin built for 1.x loads on any core 1.y with y ≥ x; a new major is a break, and
 * the loader refuses a plugin of another major instead of letting it fail at run time.
 * 1.1: the descriptor's `cleanup`. 1.2: geneve devices (`LinkSpec` kind 'geneve'), routes with tunnel
 * encapsulation (`Route.encap`), and `LeaseWatcher` for backends that watch leases themselves.
 * 1.3: generic netlink and WireGuard (`Netlink.genlFamily`, `wgGetDevice`, `wgSetDevice`, the
 * `requests.wgSetDevice`/`wgPeerSet` that `Netlink.apply` sends, `LinkSpec` kind 'wireguard'), and
 * `Network.peerTraffic` for per-peer tunnel counters.
 * 1.4: XFRM (IPsec) policies (`Netlink.xfrmPolicyList`, `xfrmPolicyUpdate`, `xfrmPolicyDel`, the
 * `requests.xfrmPolicyUpdate`/`xfrmPolicyDel` that `Netlink.apply` sends, the 'xfrm-policy' monitor topic).
 * 1.5: `BackendContext.resyncMs` (flanneld's -kernel-resync), `ReconcilerObserver.passStarted`, and the
 * 'nftables' monitor topic.
 */
export const BACKEND_CONTRACT_VERSION = '1.5';

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
  /**
   * How often core's engine compares the whole kernel state with the leases when nothing asked for it
   * (flanneld's -kernel-resync), in ms. reconciledNetwork applies it over the backend's own timing; absent
   * (the flag not given): the backend's own, else the engine's default.
   */
  resyncMs?: number;
}

/** The DI token for BackendContext.resyncMs: flanneld binds it from -kernel-resync (optional). */
export const KernelResyncMs = Symbol.for('flannel-ts.KernelResyncMs');

/**
 * What a backend package exports (as `backend`, or as its default export). Built-in backends and
 * third-party ones are the same kind of package.
 */
export interface BackendDescriptor {
  /** The Backend.Type it serves, lower case; it is also written into the lease's BackendType. */
  readonly name: string;
  /** The BACKEND_CONTRACT_VERSION it was built against: "1.1", or a bare major such as 1 (= "1.0"). */
  readonly contractVersion: string | number;
  create(ctx: BackendContext): Backend | Promise<Backend>;
  /**
   * Removes what the backend leaves on a node (devices, files; flanneld itself removes routes and
   * nexthops with proto 70 and the traffic rules), for `flanneld --cleanup` when a node is uninstalled.
   * A running flanneld leaves its state in place on shutdown, so pods keep their network across
   * restarts; this is the only time it is torn down. Returns what it removed, or with `dryRun` what it
   * would remove, one line each ("device flannel.1"). Optional since contract 1.1.
   */
  cleanup?(ctx: CleanupContext): Promise<string[]>;
}

/** What a backend's cleanup gets: the node's netlink and a logger. With `dryRun` it removes nothing. */
export interface CleanupContext {
  netlink: Netlink;
  logger: Logger;
  dryRun: boolean;
}
/** The multi-bound token under which a package's ContainerModule registers its descriptor. */
export const BackendDescriptor = Symbol.for('flannel-ts.BackendDescriptor');
