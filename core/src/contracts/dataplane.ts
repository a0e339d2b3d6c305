import type { Lease } from './lease.js';
import type { MonitorTopic, NetlinkEvent } from '../netlink/monitor.js';
import type { KernelEntry } from '../reconcile/kernel-entry.js';

/**
 * What a backend tells the reconciliation engine; the engine does the rest (watching leases, diffing with
 * the kernel, batching, pruning, repairing, retrying). Three questions, all about this backend alone:
 * how a lease becomes kernel entries, what of ours the kernel holds, and whether the devices are right.
 */
export interface Dataplane {
  /**
   * The entries one peer's lease needs, and what was wrong with it (per family: a malformed BackendData,
   * a peer off our L2 segment). Pure and synchronous: no kernel lookups here; keep what you need to know
   * about the kernel (connected networks, device indexes) fresh in `ensureDevices`.
   */
  planPeer(lease: Lease): PeerPlan;
  /** Every entry of ours the kernel holds now, built with the same key scheme as `planPeer`'s. */
  readKernel(): Promise<KernelEntry[]>;
  /**
   * Makes the devices right (present, up, address, MTU) and refreshes what `planPeer` reads. Called
   * before every resync. Returns true when something `planPeer`'s answers depend on changed (a recreated
   * device has a new index): the engine then plans every peer again. It may instead return a DeviceCheck,
   * which also names the devices it had to repair (counted in flanneld's metrics).
   */
  ensureDevices(reasons: readonly string[]): Promise<boolean | DeviceCheck>;
  /** Which kernel changes are worth a look. */
  readonly watch: KernelWatch;
}

export interface DeviceCheck {
  /** As ensureDevices' boolean answer: plan every peer again. */
  replan: boolean;
  /** Devices that were missing, down, incompatible or resized and were put right. */
  repaired: string[];
}

export interface PeerPlan {
  entries: KernelEntry[];
  /** Why (part of) the lease is not programmed; empty when all of it is. */
  problems: string[];
}

export interface KernelWatch {
  topics: MonitorTopic[];
  /** Topics whose 'new' notifications are dropped undecoded (our own batches cause thousands). */
  deletionsOnly?: MonitorTopic[];
  /**
   * What an event means: the key of an entry that was deleted (the engine repairs it only if it still
   * wants it, so deletions it made itself cost nothing), a reason for a full resync (our device went
   * away), or undefined.
   */
  classify(ev: NetlinkEvent): { deleted: string } | { resync: string } | undefined;
}
