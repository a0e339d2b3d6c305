import type { Observable } from 'rxjs';

/**
 * A lease key as the store holds it: the subnet key (`10.244.3.0-24`), the LeaseAttrs JSON text, and
 * whether it is a reservation (a key with no TTL, which never expires and is never handed to anyone else).
 */
export interface StoredSubnet {
  key: string;
  value: string;
  reservation: boolean;
  /** Known when the store reports it (after our own create/update); peers' expirations are not fetched. */
  expiration?: Date;
  revision: number;
}

export type RegistryChange = { type: 'put'; entry: StoredSubnet } | { type: 'delete'; key: string; revision: number };

/** A watch result: changes since the last one, or (after a gap such as etcd compaction) the full list. */
export type RegistryUpdate = { kind: 'changes'; changes: RegistryChange[]; revision: number } | { kind: 'reset'; entries: StoredSubnet[]; revision: number };

/**
 * The storage side of a subnet manager: plain key operations over one network's subnet keys. The lease
 * policy (which subnet to take, renewal, revocation) lives in StoreSubnetManager, shared by every store.
 */
export interface LeaseRegistry {
  /** "Etcd", "Embedded store": the start of the subnet manager's name. */
  readonly description: string;
  /** The network config text (net-conf.json); throws a UserError when there is none. */
  getNetworkConfig(signal: AbortSignal): Promise<string>;
  list(signal: AbortSignal): Promise<{ entries: StoredSubnet[]; revision: number }>;
  /** Creates the key only if it does not exist; undefined when someone else holds it. */
  create(key: string, value: string, ttlSeconds: number, signal: AbortSignal): Promise<StoredSubnet | undefined>;
  /** Writes the key unconditionally; ttlSeconds 0 makes it a reservation. */
  update(key: string, value: string, ttlSeconds: number, signal: AbortSignal): Promise<StoredSubnet>;
  /** Writes the key only if it still holds `expected` (compare-and-swap); undefined when it does not. */
  updateIf(key: string, expected: string, value: string, ttlSeconds: number, signal: AbortSignal): Promise<StoredSubnet | undefined>;
  /** The key as the store holds it now, or undefined. */
  get(key: string, signal: AbortSignal): Promise<StoredSubnet | undefined>;
  delete(key: string, signal: AbortSignal): Promise<void>;
  /** Changes after `revision`; reconnects by itself and reports a gap as a reset. Never errors. */
  watch(revision: number): Observable<RegistryUpdate>;
  close(): Promise<void>;
}
