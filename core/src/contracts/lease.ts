import type { IP } from '../ip/ip.js';
import type { IPNet } from '../ip/ipnet.js';

/** A JSON value as stored in BackendData: opaque to everything but the backend that wrote it. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/** What a node publishes about itself with its lease (the value stored in etcd, or node annotations). */
export interface LeaseAttrs {
  publicIP?: IP;
  publicIPv6?: IP;
  backendType?: string;
  backendData?: JsonValue;
  backendV6Data?: JsonValue;
}

/**
 * A node's claim on a pod subnet. Either part may be absent: an IPv4-only lease has no `ipv6Subnet`,
 * an IPv6-only lease no `subnet`. `expiration` is absent for a reservation (a key with no TTL).
 */
export interface Lease {
  subnet?: IPNet;
  ipv6Subnet?: IPNet;
  attrs: LeaseAttrs;
  expiration?: Date;
  /** Store revision at which this lease was read (etcd ModRevision). */
  asof?: number;
}

export type LeaseEventType = 'added' | 'removed';

export interface LeaseEvent {
  type: LeaseEventType;
  lease: Lease;
}

/**
 * One result from a store's watch: either incremental events, or a full snapshot after which anything
 * not listed is gone (first listing, or a re-list after the watch fell behind, e.g. etcd compaction).
 */
export type LeaseWatchResult = { kind: 'events'; events: LeaseEvent[]; cursor?: unknown } | { kind: 'snapshot'; snapshot: Lease[]; cursor?: unknown };
