import { Observable } from 'rxjs';
import { Etcd3, type IKeyValue, type IOptions, type Watcher } from 'etcd3';
import type { Clock } from '../../contracts/clock.js';
import type { Logger } from '../../contracts/logger.js';
import { UserError } from '../../errors/user-error.js';
import { retryWithBackoff } from '../../util/retry.js';
import { systemClock } from '../../util/system-clock.js';
import type { LeaseRegistry, RegistryChange, RegistryUpdate, StoredSubnet } from '../registry.js';

/**
 * Subnet keys in etcd v3, laid out as Go flannel does: `<prefix>/config` and `<prefix>/subnets/<key>`,
 * each lease key attached to an etcd lease of the TTL. A key with no etcd lease is a reservation.
 */
/** How often the watch checks that etcd is still the store it was (see probe). */
const PROBE_MS = 5000;

export class EtcdRegistry implements LeaseRegistry {
  readonly description = 'Etcd Local Manager';
  private readonly client: Etcd3;
  private readonly subnetsPrefix: string;

  constructor(
    options: IOptions,
    private readonly prefix: string,
    private readonly logger: Logger,
    private readonly clock: Clock = systemClock,
  ) {
    this.client = new Etcd3(options);
    this.subnetsPrefix = `${prefix}/subnets/`;
  }

  async getNetworkConfig(signal: AbortSignal): Promise<string> {
    const text = await abortable(this.client.get(`${this.prefix}/config`).string(), signal);
    if (text === null) {
      throw new UserError(
        `${this.prefix}/config`,
        'flannel config not found in etcd store. Did you create your config using etcdv3 API?',
        `write it with: etcdctl put ${this.prefix}/config '{"Network":"10.244.0.0/16","Backend":{"Type":"vxlan"}}'`,
      );
    }
    return text;
  }

  async list(signal: AbortSignal): Promise<{ entries: StoredSubnet[]; revision: number }> {
    const res = await abortable(this.client.getAll().prefix(this.subnetsPrefix).exec(), signal);
    return { entries: res.kvs.map((kv) => this.toStored(kv)), revision: Number(res.header.revision) };
  }

  async create(key: string, value: string, ttlSeconds: number, signal: AbortSignal): Promise<StoredSubnet | undefined> {
    const full = this.subnetsPrefix + key;
    const { ID } = await abortable(this.client.leaseClient.leaseGrant({ TTL: ttlSeconds, ID: 0 }), signal);
    const res = await abortable(this.client.if(full, 'Version', '==', 0).then(this.client.put(full).value(value).lease(ID)).commit(), signal);
    if (!res.succeeded) {
      await this.client.leaseClient.leaseRevoke({ ID }).catch(() => undefined);
      return undefined;
    }
    return { key, value, reservation: false, expiration: expiresIn(ttlSeconds), revision: Number(res.header.revision) };
  }

  /** A fresh etcd lease per write; the key's previous etcd lease is revoked, not left to linger until its TTL as Go flannel leaves it. */
  async update(key: string, value: string, ttlSeconds: number, signal: AbortSignal): Promise<StoredSubnet> {
    const full = this.subnetsPrefix + key;
    const put = this.client.put(full).value(value);
    let leaseID: string | undefined;
    if (ttlSeconds > 0) {
      leaseID = (await abortable(this.client.leaseClient.leaseGrant({ TTL: ttlSeconds, ID: 0 }), signal)).ID;
      put.lease(leaseID);
    }
    const prev = await abortable(put.getPrevious(), signal);
    const oldLease = prev.lease;
    if (oldLease && oldLease !== '0' && oldLease !== leaseID) {
      await this.client.leaseClient.leaseRevoke({ ID: oldLease }).catch(() => undefined);
    }
    const stored: StoredSubnet = { key, value, reservation: ttlSeconds === 0, revision: Number(prev.header.revision) };
    if (ttlSeconds > 0) stored.expiration = expiresIn(ttlSeconds);
    return stored;
  }

  /** Compare-and-swap on the key's current value (and its revision, so an ABA write is caught too). */
  async updateIf(key: string, expected: string, value: string, ttlSeconds: number, signal: AbortSignal): Promise<StoredSubnet | undefined> {
    const full = this.subnetsPrefix + key;
    const current = (await abortable(this.client.get(full).exec(), signal)).kvs[0];
    if (!current || current.value.toString() !== expected) return undefined;
    let leaseID = '0';
    if (ttlSeconds > 0) leaseID = (await abortable(this.client.leaseClient.leaseGrant({ TTL: ttlSeconds, ID: 0 }), signal)).ID;
    const put = this.client.put(full).value(value);
    if (ttlSeconds > 0) put.lease(leaseID);
    const res = await abortable(this.client.if(full, 'Mod', '==', Number(current.mod_revision)).then(put).commit(), signal);
    if (!res.succeeded) {
      if (leaseID !== '0') await this.client.leaseClient.leaseRevoke({ ID: leaseID }).catch(() => undefined);
      return undefined;
    }
    if (current.lease !== '0' && current.lease !== leaseID) await this.client.leaseClient.leaseRevoke({ ID: current.lease }).catch(() => undefined);
    const stored: StoredSubnet = { key, value, reservation: ttlSeconds === 0, revision: Number(res.header.revision) };
    if (ttlSeconds > 0) stored.expiration = expiresIn(ttlSeconds);
    return stored;
  }

  async get(key: string, signal: AbortSignal): Promise<StoredSubnet | undefined> {
    const kv = (await abortable(this.client.get(this.subnetsPrefix + key).exec(), signal)).kvs[0];
    return kv && this.toStored(kv);
  }

  async delete(key: string, signal: AbortSignal): Promise<void> {
    await abortable(
      this.client
        .delete()
        .key(this.subnetsPrefix + key)
        .exec(),
      signal,
    );
  }

  watch(revision: number): Observable<RegistryUpdate> {
    return new Observable<RegistryUpdate>((subscriber) => {
      const closed = new AbortController();
      let watcher: Watcher | undefined;
      let rev = revision;

      // watcher() attaches synchronously, so an immediate cancel (a compacted revision) is not missed.
      const start = (): void => {
        if (closed.signal.aborted) return;
        const w = this.client
          .watch()
          .prefix(this.subnetsPrefix)
          .startRevision(String(rev + 1))
          .watcher();
        watcher = w;
        w.on('data', (res) => {
          const changes: RegistryChange[] = res.events.map((ev) =>
            ev.type === 'Put' ? { type: 'put', entry: this.toStored(ev.kv) } : { type: 'delete', key: this.keyOf(ev.kv), revision: Number(ev.kv.mod_revision) },
          );
          rev = Math.max(rev, Number(res.header.revision));
          if (changes.length) subscriber.next({ kind: 'changes', changes, revision: rev });
        });
        // Said at each reconnect attempt, so debug only: flanneld reports an outage once, with its length.
        w.on('disconnected', (err: Error) => this.logger.debug({ err: err.message }, 'etcd watch disconnected; waiting to reconnect'));
        w.on('connected', () => this.logger.debug({ revision: rev }, 'etcd watch connected'));
        // A cancelled watch, most often because our revision was compacted away: list again.
        w.on('error', (err: Error) => void relist(err));
      };

      let relisting = false;
      const relist = async (reason: Error): Promise<void> => {
        if (relisting) return;
        relisting = true;
        const w = watcher;
        watcher = undefined;
        void w?.cancel().catch(() => undefined); // may never settle for a watch etcd already cancelled
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
        void watcher?.cancel().catch(() => undefined);
      };
    });
  }

  async close(): Promise<void> {
    this.client.close();
  }

  /**
   * A watch resumed at a revision the store no longer has sees nothing: after etcd is wiped, or restored
   * from an older snapshot, it waits for a future that never comes. Every PROBE_MS we ask etcd where it
   * is: another cluster ID, or a revision behind what we have seen, means the store was replaced.
   */
  private async probe(signal: AbortSignal, seen: () => number, replaced: (reason: Error) => void): Promise<void> {
    let clusterId: string | undefined;
    while (await this.clock.sleep(PROBE_MS, signal)) {
      try {
        const { header } = await this.client.get(`${this.prefix}/config`).exec();
        const revision = Number(header.revision);
        const reason =
          clusterId !== undefined && header.cluster_id !== clusterId
            ? `etcd's cluster ID changed from ${clusterId} to ${header.cluster_id}`
            : revision < seen()
              ? `etcd's revision went back from ${seen()} to ${revision}`
              : undefined;
        clusterId = header.cluster_id;
        if (reason) {
          this.logger.error({ reason }, 'the etcd store was replaced or restored; listing leases again');
          replaced(new Error(reason));
        }
      } catch {
        // Unreachable: the watch reports that itself, and the next probe tries again.
      }
    }
  }

  private keyOf(kv: IKeyValue): string {
    return kv.key.toString().slice(this.subnetsPrefix.length);
  }

  private toStored(kv: IKeyValue): StoredSubnet {
    return { key: this.keyOf(kv), value: kv.value.toString(), reservation: kv.lease === '0', revision: Number(kv.mod_revision) };
  }
}

function expiresIn(ttlSeconds: number): Date {
  return new Date(Date.now() + ttlSeconds * 1000);
}

/** Rejects as soon as `signal` aborts; the etcd call itself finishes or times out on its own. */
function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason as Error);
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason as Error);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}
