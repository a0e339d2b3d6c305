import type { Lease } from '../contracts/lease.js';
import type { Logger } from '../contracts/logger.js';
import type { IPNet } from '../ip/ipnet.js';
import { decodeLeaseAttrs, LeaseAttrsError } from '../lease/lease-attrs-json.js';
import { isSubnetKey, parseSubnetKey, type SubnetKey } from '../lease/subnet-key.js';
import type { StoredSubnet } from './registry.js';

/** A store key read back: its subnets always (they are taken), its lease only when the value parses. */
export interface ReadLease {
  entry: StoredSubnet;
  subnets: SubnetKey;
  lease?: Lease;
  /** Its value was read and is malformed (logged once, then skipped by every reader of the listing). */
  malformed?: true;
}

/**
 * Parses what is stored. A key that is not a subnet key is ignored; a value another node wrote badly is
 * logged and yields no lease, but its subnet still counts as taken so it is never handed out twice.
 */
export function readStoredSubnet(entry: StoredSubnet, logger: Logger): ReadLease | undefined {
  const read = readSubnetKey(entry, logger);
  if (read) readLeaseValue(read, logger);
  return read;
}

/** The key alone: what readStoredSubnet does before the value, for readers that decode values later or not at all. */
export function readSubnetKey(entry: StoredSubnet, logger: Logger): ReadLease | undefined {
  const subnets = parseSubnetKey(entry.key);
  if (!isSubnetKey(subnets)) {
    logger.warn({ key: entry.key, problem: subnets.error }, 'ignoring a store key that is not a subnet key');
    return undefined;
  }
  return { entry, subnets };
}

/**
 * Decodes the value of a key read by readSubnetKey into `read.lease`; a malformed value is logged and marked.
 * Once only: a value decoded (or found malformed) before is answered from `read`.
 */
export function readLeaseValue(read: ReadLease, logger: Logger): Lease | undefined {
  if (read.lease || read.malformed) return read.lease;
  const { entry, subnets } = read;
  try {
    const attrs = decodeLeaseAttrs(entry.value);
    const lease: Lease = { subnet: subnets.subnet, attrs, asof: entry.revision };
    if (subnets.ipv6Subnet) lease.ipv6Subnet = subnets.ipv6Subnet;
    if (entry.expiration) lease.expiration = entry.expiration;
    return (read.lease = lease);
  } catch (err) {
    if (!(err instanceof LeaseAttrsError)) throw err;
    logger.warn({ key: entry.key, problem: err.message }, 'skipping a peer lease with malformed attributes');
    read.malformed = true;
    return undefined;
  }
}

/** The lease that a delete names: its subnets only, as an etcd delete event carries nothing else. */
export function deletedLease(key: string): { subnet: IPNet; ipv6Subnet?: IPNet } | undefined {
  const subnets = parseSubnetKey(key);
  return isSubnetKey(subnets) ? subnets : undefined;
}
