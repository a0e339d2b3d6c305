import { Observable } from 'rxjs';
import type { Clock } from '../../contracts/clock.js';
import type { Logger } from '../../contracts/logger.js';
import { UserError } from '../../errors/user-error.js';
import { retryWithBackoff } from '../../util/retry.js';
import { systemClock } from '../../util/system-clock.js';
import type { LeaseRegistry, RegistryChange, RegistryUpdate, StoredSubnet } from '../registry.js';
import { EtcdClient, type EtcdClientOptions, type Watch } from './client.js';
import { GrpcError, Status } from './grpc.js';
import { prefixEnd, type KeyValue, type ResponseHeader } from './messages.js';

/** How often the watch checks that etcd is still the store it was (see probe). */
export const PROBE_MS = 5000;

/**
 * Keys per page of a listing. A response is decoded in one piece when its last byte arrives (~3 µs a key
 * here, 20,000 keys held the event loop ~100 ms); pages bound that, for a round trip each.
 */
export const LIST_PAGE_SIZE = 2000;
/**
 * Attempts at a listing in all: one is started again when etcd cannot serve the first page's revision for a
 * later page (compacted away meanwhile, or a member behind the one that answered first).
 */
const LIST_ATTEMPTS = 3;
/** What the UTF-8 decoder puts in place of bytes that are not UTF-8. */
const REPLACEMENT_CHARACTER = '\uFFFD';

/**
 * Subnet keys in etcd v3, laid out as Go flannel does: `<prefix>/config` and `<prefix>/subnets/<key>`,
 * each lease key attached to an etcd lease of the TTL. A key with no etcd lease is a reservation.
 */
export class EtcdRegistry implements LeaseRegistry {
  readonly description = 'Etcd Local Manager';
  private readonly client: EtcdClient;
  private readonly subnetsPrefix: string;
  private readonly subnetsEnd: Buffer;
  /** The watches' store checks (see probe): each marks a config read as it is sent, and checks its answer. */
  private readonly storeChecks = new Set<() => (header: ResponseHeader) => void>();

  constructor(
    options: EtcdClientOptions,
    private readonly prefix: string,
    private readonly logger: Logger,
    private readonly clock: Clock = systemClock,
  ) {
    this.client = new EtcdClient(options);
    this.subnetsPrefix = `${prefix}/subnets/`;
    this.subnetsEnd = prefixEnd(this.subnetsPrefix);
  }

  async getNetworkConfig(signal: AbortSignal): Promise<string> {
    const checks: ((header: ResponseHeader) => void)[] = [];
    for (const mark of this.storeChecks) checks.push(mark());
    const { header, kvs } = await this.client.range({ key: `${this.prefix}/config` }, signal);
    for (const check of checks) check(header);
    const kv = kvs[0];
    if (!kv) {
      throw new UserError(
        `${this.prefix}/config`,
        'flannel config not found in etcd store. Did you create your config using etcdv3 API?',
        `write it with: etcdctl put ${this.prefix}/config '{"Network":"10.244.0.0/16","Backend":{"Type":"vxlan"}}'`,
      );
    }
    return kv.value;
  }

  /**
   * Every subnet key, as of one revision: the first page's, which every later page asks for. If etcd
   * compacts that revision away meanwhile (OUT_OF_RANGE), the listing starts again from the present.
   */
  async list(signal: AbortSignal): Promise<{ entries: StoredSubnet[]; revision: number }> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.listPages(signal);
      } catch (err) {
        if (!(err instanceof GrpcError && err.code === Status.OUT_OF_RANGE) || attempt === LIST_ATTEMPTS) throw err;
        this.logger.info({ err: err.message }, "etcd cannot serve the listing's revision for its next page (compacted, or a member behind); listing again");
      }
    }
  }

  private async listPages(signal: AbortSignal): Promise<{ entries: StoredSubnet[]; revision: number }> {
    const entries: StoredSubnet[] = [];
    let from = this.subnetsPrefix;
    let revision: number | undefined;
    for (;;) {
      const at = revision === undefined ? {} : { revision };
      const page = await this.client.range({ key: from, rangeEnd: this.subnetsEnd, limit: LIST_PAGE_SIZE, ...at }, signal);
      revision ??= page.header.revision;
      const last = page.kvs[page.kvs.length - 1];
      if (page.more && last?.key.includes(REPLACEMENT_CHARACTER)) {
        // A key that is not UTF-8 (anyone's garbage) was decoded lossily: the key after it cannot be named.
        // The rest is read in one reply from this page's start; at one revision it begins with this page.
        const rest = await this.client.range({ key: from, rangeEnd: this.subnetsEnd, revision }, signal);
        for (const kv of rest.kvs) entries.push(this.toStored(kv));
        return { entries, revision };
      }
      for (const kv of page.kvs) entries.push(this.toStored(kv));
      if (!page.more || !last) return { entries, revision };
      // The next key in etcd's byte order.
      from = `${last.key}\0`;
    }
  }

  async create(key: string, value: string, ttlSeconds: number, signal: AbortSignal): Promise<StoredSubnet | undefined> {
    const full = this.subnetsPrefix + key;
    const { id } = await this.client.leaseGrant(ttlSeconds, signal);
    const res = await this.client.txn(
      { compare: [{ key: full, target: 'version', result: '==', value: 0 }], success: [{ put: { key: full, value, lease: id } }] },
      signal,
    );
    if (!res.succeeded) {
      await this.revoke(id);
      return undefined;
    }
    return { key, value, reservation: false, expiration: expiresIn(ttlSeconds), revision: res.header.revision };
  }

  /** A fresh etcd lease per write; the key's previous etcd lease is revoked, not left to linger until its TTL as Go flannel leaves it. */
  async update(key: string, value: string, ttlSeconds: number, signal: AbortSignal): Promise<StoredSubnet> {
    const full = this.subnetsPrefix + key;
    const lease = ttlSeconds > 0 ? (await this.client.leaseGrant(ttlSeconds, signal)).id : 0n;
    const res = await this.client.put({ key: full, value, lease, prevKv: true }, signal);
    const oldLease = res.prevKv?.lease ?? 0n;
    if (oldLease !== 0n && oldLease !== lease) await this.revoke(oldLease);
    const stored: StoredSubnet = { key, value, reservation: ttlSeconds === 0, revision: res.header.revision };
    if (ttlSeconds > 0) stored.expiration = expiresIn(ttlSeconds);
    return stored;
  }

  /** Compare-and-swap on the key's current value (and its revision, so an ABA write is caught too). */
  async updateIf(key: string, expected: string, value: string, ttlSeconds: number, signal: AbortSignal): Promise<StoredSubnet | undefined> {
    const full = this.subnetsPrefix + key;
    const current = (await this.client.range({ key: full }, signal)).kvs[0];
    if (!current || current.value !== expected) return undefined;
    const lease = ttlSeconds > 0 ? (await this.client.leaseGrant(ttlSeconds, signal)).id : 0n;
    const res = await this.client.txn(
      { compare: [{ key: full, target: 'mod', result: '==', value: current.modRevision }], success: [{ put: { key: full, value, lease } }] },
      signal,
    );
    if (!res.succeeded) {
      if (lease !== 0n) await this.revoke(lease);
      return undefined;
    }
    if (current.lease !== 0n && current.lease !== lease) await this.revoke(current.lease);
    const stored: StoredSubnet = { key, value, reservation: ttlSeconds === 0, revision: res.header.revision };
    if (ttlSeconds > 0) stored.expiration = expiresIn(ttlSeconds);
    return stored;
  }

  async get(key: string, signal: AbortSignal): Promise<StoredSubnet | undefined> {
    const kv = (await this.client.range({ key: this.subnetsPrefix + key }, signal)).kvs[0];
    return kv && this.toStored(kv);
  }

  async delete(key: string, signal: AbortSignal): Promise<void> {
    await this.client.deleteRange({ key: this.subnetsPrefix + key }, signal);
  }

  watch(revision: number): Observable<RegistryUpdate> {
    return new Observable<RegistryUpdate>((subscriber) => {
      const closed = new AbortController();
      let watch: Watch | undefined;
      let rev = revision;

      const start = (): void => {
        if (closed.signal.aborted) return;
        watch = this.client.watch(
          { key: this.subnetsPrefix, rangeEnd: this.subnetsEnd, startRevision: rev + 1 },
          {
            onCreated: () => this.logger.debug({ revision: rev }, 'etcd watch connected'),
            onResponse: (res) => {
              const changes: RegistryChange[] = res.events.map((ev) =>
                ev.type === 'put' ? { type: 'put', entry: this.toStored(ev.kv) } : { type: 'delete', key: this.keyOf(ev.kv), revision: ev.kv.modRevision },
              );
              rev = Math.max(rev, res.header.revision);
              if (changes.length) subscriber.next({ kind: 'changes', changes, revision: rev });
            },
            // Said at each reconnect attempt, so debug only: flanneld reports an outage once, with its length.
            onDisconnected: (err) => this.logger.debug({ err: err.message }, 'etcd watch disconnected; waiting to reconnect'),
            // A cancelled watch, most often because our revision was compacted away: list again.
            onCanceled: (res) =>
              void relist(
                new Error(
                  res.compactRevision
                    ? `etcd compacted revision ${rev + 1} away (oldest kept: ${res.compactRevision})`
                    : `etcd canceled the watch: ${res.cancelReason || 'no reason given'}`,
                ),
              ),
          },
        );
      };

      let relisting = false;
      const relist = async (reason: Error): Promise<void> => {
        if (relisting) return;
        relisting = true;
        watch?.close();
        watch = undefined;
        this.logger.warn({ err: reason.message }, 'etcd watch lost its place; listing leases again');
        const listing = await retryWithBackoff((signal) => this.list(AbortSignal.any([signal, AbortSignal.timeout(10_000)])), closed.signal, {
          clock: this.clock,
          onError: (err, retryInMs) => this.logger.warn({ err: (err as Error).message, retryInMs }, 'cannot list leases yet; retrying'),
        });
        relisting = false;
        if (!listing) return;
        rev = listing.revision;
        subscriber.next({ kind: 'reset', entries: listing.entries, revision: listing.revision });
        start();
      };

      start();
      void this.probe(
        closed.signal,
        () => rev,
        (reason) => void relist(reason),
      );
      return () => {
        closed.abort();
        watch?.close();
      };
    });
  }

  async close(): Promise<void> {
    this.client.close();
  }

  /**
   * A watch resumed at a revision the store no longer has sees nothing: after etcd is wiped, or restored
   * from an older snapshot, it waits for a future that never comes. Every PROBE_MS we look at where etcd
   * is: another cluster ID, or a revision behind what we have seen, means the store was replaced.
   *
   * Any answer's header tells that. flanneld reads the network config every 5 s to notice outages, so the
   * probe checks those answers as they come, and asks etcd itself only when none came in a whole period:
   * one request every 5 s instead of two, which was a tenth of an idle flanneld's CPU.
   */
  private async probe(signal: AbortSignal, seen: () => number, replaced: (reason: Error) => void): Promise<void> {
    let clusterId: string | undefined;
    /** A config read was answered since the probe last woke. */
    let heard = false;
    // A read is answered at a revision no older than any the watch had seen when it was sent, while a watch
    // event that comes in during the read must not make its answer look old: the revision is taken at the send.
    const mark = (own = false) => {
      const seenThen = seen();
      return (header: ResponseHeader): void => {
        if (signal.aborted) return;
        if (!own) heard = true;
        const reason =
          clusterId !== undefined && header.clusterId !== clusterId
            ? `etcd's cluster ID changed from ${clusterId} to ${header.clusterId}`
            : header.revision < seenThen
              ? `etcd's revision went back from ${seenThen} to ${header.revision}`
              : undefined;
        clusterId = header.clusterId;
        if (reason) {
          this.logger.error({ reason }, 'the etcd store was replaced or restored; listing leases again');
          replaced(new Error(reason));
        }
      };
    };
    const fromConfigReads = () => mark();
    this.storeChecks.add(fromConfigReads);
    try {
      while (await this.clock.sleep(PROBE_MS, signal)) {
        if (heard) {
          heard = false;
          continue;
        }
        try {
          const check = mark(true);
          check((await this.client.range({ key: `${this.prefix}/config`, countOnly: true }, AbortSignal.any([signal, AbortSignal.timeout(PROBE_MS)]))).header);
        } catch {
          // Unreachable: the watch reports that itself, and the next probe tries again.
        }
      }
    } finally {
      this.storeChecks.delete(fromConfigReads);
    }
  }

  /** Revokes an etcd lease we no longer need; a failure only leaves it to expire. */
  private async revoke(id: bigint): Promise<void> {
    await this.client.leaseRevoke(id, AbortSignal.timeout(5000)).catch(() => undefined);
  }

  private keyOf(kv: KeyValue): string {
    return kv.key.slice(this.subnetsPrefix.length);
  }

  private toStored(kv: KeyValue): StoredSubnet {
    return { key: this.keyOf(kv), value: kv.value, reservation: kv.lease === 0n, revision: kv.modRevision };
  }
}

function expiresIn(ttlSeconds: number): Date {
  return new Date(Date.now() + ttlSeconds * 1000);
}
