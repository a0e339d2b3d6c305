import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { concat, concatMap, defer, EMPTY, mergeMap, Observable, of } from 'rxjs';
import type { Clock } from '../contracts/clock.js';
import type { Lease, LeaseAttrs, LeaseEvent, LeaseWatchResult } from '../contracts/lease.js';
import type { Logger } from '../contracts/logger.js';
import type { NetworkConfig } from '../contracts/network-config.js';
import { LeaseRevokedError, type SubnetManager } from '../contracts/subnet-manager.js';
import { loadNetConfig, NetConfigReader } from '../config/net-conf.js';
import { UserError } from '../errors/user-error.js';
import type { IPNet } from '../ip/ipnet.js';
import { encodeLeaseAttrs } from '../lease/lease-attrs-json.js';
import { makeSubnetKey } from '../lease/subnet-key.js';
import { retryWithBackoff } from '../util/retry.js';
import { systemClock } from '../util/system-clock.js';
import { freeSubnets, isCompatible, pickRandom } from './allocate.js';
import type { LeaseRegistry, RegistryUpdate, StoredSubnet } from './registry.js';
import { deletedLease, readLeaseValue, readStoredSubnet, readSubnetKey, type ReadLease } from './stored-lease.js';
import { LeaseRenewer } from './lease-renewer.js';

export const LEASE_TTL_SECONDS = 24 * 3600;

type Listing = { entries: StoredSubnet[]; revision: number };
/** A listing's keys parsed; values are decoded by whoever needs them (see readLeaseValue). */
type ReadListing = { read: ReadLease[]; revision: number };
export const RACE_RETRIES = 10;

export interface StoreSubnetManagerOptions {
  /** The subnets in subnet.env from a previous run, tried before a random pick. */
  previousSubnet?: IPNet;
  previousIPv6Subnet?: IPNet;
  /** Renew this many minutes before expiry (--subnet-lease-renew-margin). */
  renewMarginMinutes: number;
  clock?: Clock;
  random?: () => number;
}

/** Store changes read between two turns of the event loop (a key and a lease's JSON each: 5-20 µs). */
const CHANGES_PER_SLICE = 250;

/**
 * Go flannel's lease policy over any LeaseRegistry (etcd, the embedded store): reuse the lease that has
 * our PublicIP, else the previous subnet, else a random free one; create with compare-and-swap and retry
 * a lost race with another subnet (Go returns an error there).
 */
export class StoreSubnetManager implements SubnetManager {
  readonly name: string;
  private readonly clock: Clock;
  private readonly random: () => number;
  /**
   * At startup one listing serves three reads: lookupLease, the acquisition after it, and the first
   * snapshot of watchLeases (a list of 5,000 keys costs ~45 ms), and its keys are parsed once for all three.
   * Each is at most 2 s old: the create that follows is compare-and-swap, and the watch resumes from the
   * listing's revision, so nothing that happened since is missed.
   */
  private recentList: { listing: ReadListing; at: number; forWatch: boolean } | undefined;
  private readonly netConf: NetConfigReader;
  /** Store changes read in the current turn of the event loop (see toWatchResults); an immediate resets it. */
  private changesThisTurn = 0;

  constructor(
    private readonly registry: LeaseRegistry,
    private readonly logger: Logger,
    private readonly options: StoreSubnetManagerOptions,
  ) {
    this.clock = options.clock ?? systemClock;
    this.netConf = new NetConfigReader(loadNetConfig, logger);
    this.random = options.random ?? Math.random;
    this.name = `${registry.description} with Previous Subnet: ${options.previousSubnet?.toString() ?? 'None'}`;
  }

  /** Closes the store's connection or files. */
  close(): Promise<void> {
    return this.registry.close();
  }

  async getNetworkConfig(signal: AbortSignal): Promise<NetworkConfig> {
    const text = await this.registry.getNetworkConfig(signal);
    const config = this.netConf.read(text);
    if (!config.enableIPv4) {
      throw new UserError('EnableIPv4', 'the etcd and embedded stores key leases by their IPv4 subnet', 'enable IPv4 (dual stack is supported)');
    }
    return config;
  }

  async acquireLease(attrs: LeaseAttrs, signal: AbortSignal): Promise<Lease> {
    const config = await this.getNetworkConfig(signal);
    for (let attempt = 1; attempt <= RACE_RETRIES; attempt++) {
      const lease = await this.tryAcquire(config, attrs, signal);
      if (lease) return lease;
      this.logger.info({ attempt }, 'another node took the subnet first; trying another one');
    }
    throw new Error('max retries reached trying to acquire a subnet');
  }

  async lookupLease(attrs: LeaseAttrs, signal: AbortSignal): Promise<Lease | undefined> {
    const { listing, at } = await this.listNow(signal);
    this.recentList = { listing, at, forWatch: false };
    // A copy: the listing's lease object goes on into the watch's first snapshot.
    const lease = this.preferred(this.oursIn(listing.read, attrs))?.lease;
    return lease && { ...lease };
  }

  /** The leases with our public IP. Only a value that contains our address as text can be ours: the rest are not decoded. */
  private oursIn(read: ReadLease[], attrs: LeaseAttrs): ReadLease[] {
    const ip = (attrs.publicIP ?? attrs.publicIPv6)?.toString();
    if (ip === undefined) return [];
    const ours: ReadLease[] = [];
    for (const r of read) {
      const lease = r.lease ?? (r.entry.value.includes(ip) ? readLeaseValue(r, this.logger) : undefined);
      if (lease && isOurs(lease.attrs, attrs)) ours.push(r);
    }
    return ours;
  }

  /** Of several leases with our public IP (a stray copy, a restore), the one of our previous subnet first. */
  private preferred(ours: ReadLease[]): ReadLease | undefined {
    const previous = this.options.previousSubnet;
    return (previous && ours.find((r) => r.subnets.subnet.equals(previous))) ?? ours[0];
  }

  /**
   * Extends the lease by compare-and-swap on the value we wrote: a plain put would silently take the key
   * back from whoever holds it now (after a restore, another node). When the swap fails, what the store
   * holds decides (see reassertLease).
   */
  async renewLease(lease: Lease, signal: AbortSignal): Promise<Lease> {
    const ttl = lease.expiration ? LEASE_TTL_SECONDS : 0;
    const value = encodeLeaseAttrs(lease.attrs);
    const stored = await this.registry.updateIf(leaseKey(lease), value, value, ttl, signal);
    return stored ? withStored({ ...lease }, stored) : this.reassertLease(lease, signal);
  }

  /**
   * Makes the store hold our lease again after it lost it (a store wiped or restored to an older state)
   * or someone rewrote it: a missing key is created again and a key with our public IP but other
   * attributes is swapped back, both by compare-and-swap; a key now holding another node's lease means
   * two nodes would share a subnet, so we give ours up (LeaseRevokedError, exit 1) rather than fight.
   */
  async reassertLease(lease: Lease, signal: AbortSignal): Promise<Lease> {
    const key = leaseKey(lease);
    const ttl = lease.expiration ? LEASE_TTL_SECONDS : 0;
    const value = encodeLeaseAttrs(lease.attrs);
    for (let attempt = 0; attempt < RACE_RETRIES; attempt++) {
      const current = await this.registry.get(key, signal);
      if (current?.value === value) return withStored({ ...lease }, current);
      if (!current) {
        const created = await this.registry.create(key, value, ttl, signal);
        if (created) {
          this.logger.warn({ subnet: String(lease.subnet) }, 'our lease had vanished from the store (wiped or restored?); wrote it back');
          return withStored({ ...lease }, created);
        }
        continue;
      }
      const holder = readStoredSubnet(current, this.logger)?.lease?.attrs;
      if (!holder || !isOurs(holder, lease.attrs)) {
        this.logger.error(
          { subnet: String(lease.subnet), holder: holder?.publicIP?.toString() ?? 'unreadable' },
          'our subnet is held by another lease now; giving it up',
        );
        throw new LeaseRevokedError(String(lease.subnet));
      }
      const restored = await this.registry.updateIf(key, current.value, value, ttl, signal);
      if (restored) {
        this.logger.warn({ subnet: String(lease.subnet) }, 'our lease was rewritten by someone else; restored it');
        return withStored({ ...lease }, restored);
      }
    }
    throw new Error(`our lease ${key} keeps changing under us; giving up this round`);
  }

  watchLeases(): Observable<LeaseWatchResult> {
    return defer(async () => {
      const { read, revision } = this.takeRecent(true)?.listing ?? (await this.readListing(await this.listWithRetry()));
      return { snapshot: await this.leasesOf(read), revision };
    }).pipe(
      mergeMap(({ snapshot, revision }) => {
        this.logger.info({ leases: snapshot.length, revision }, 'watching leases');
        return concat(
          [{ kind: 'snapshot', snapshot, cursor: revision } as LeaseWatchResult],
          this.registry.watch(revision).pipe(concatMap((update) => this.toWatchResults(update))),
        );
      }),
    );
  }

  completeLease(lease: Lease, signal: AbortSignal): Promise<void> {
    const renewer = new LeaseRenewer(this, this.registry, this.logger, this.clock, this.options.renewMarginMinutes);
    return renewer.run(lease, leaseKey(lease), signal);
  }

  private async tryAcquire(config: NetworkConfig, attrs: LeaseAttrs, signal: AbortSignal): Promise<Lease | undefined> {
    const { listing } = this.takeRecent(false) ?? (await this.listNow(signal));
    this.recentList = { listing, at: this.clock.now().getTime(), forWatch: true };
    let held = listing.read;
    const value = encodeLeaseAttrs(attrs);

    const ours = this.oursIn(held, attrs);
    const mine = this.preferred(ours.filter((r) => isCompatible(config, r.subnets.subnet, r.subnets.ipv6Subnet))) ?? ours[0];
    for (const stray of ours.filter((r) => r !== mine)) {
      // Two keys with our address would both route to us, and the stray one would never be renewed by anyone.
      this.logger.warn({ subnet: String(stray.subnets.subnet), keeping: String(mine!.subnets.subnet) }, 'another lease carries our public IP; deleting it');
      await this.registry.delete(stray.entry.key, signal);
      held = held.filter((r) => r !== stray);
    }
    if (mine) {
      if (isCompatible(config, mine.subnets.subnet, mine.subnets.ipv6Subnet)) {
        const ttl = mine.entry.reservation ? 0 : LEASE_TTL_SECONDS;
        const stored = await this.registry.update(mine.entry.key, value, ttl, signal);
        this.logger.info({ subnet: String(mine.subnets.subnet), reservation: mine.entry.reservation }, 'reusing the lease that carries our public IP');
        return withStored({ ...mine.subnets, attrs }, stored);
      }
      this.logger.info({ subnet: String(mine.subnets.subnet) }, 'our previous lease does not fit the network config; deleting it');
      await this.registry.delete(mine.entry.key, signal);
      held = held.filter((r) => r !== mine);
    }

    const subnets = this.previousSubnets(config, held) ?? this.randomSubnets(config, held);
    const stored = await this.registry.create(makeSubnetKey(subnets.subnet, subnets.ipv6Subnet), value, LEASE_TTL_SECONDS, signal);
    if (!stored) return undefined;
    this.logger.info({ subnet: String(subnets.subnet), ipv6Subnet: subnets.ipv6Subnet?.toString() }, 'acquired a new lease');
    return withStored({ ...subnets, attrs }, stored);
  }

  private takeRecent(forWatch: boolean): { listing: ReadListing; at: number } | undefined {
    const recent = this.recentList;
    if (!recent || recent.forWatch !== forWatch) return undefined;
    this.recentList = undefined;
    return this.clock.now().getTime() - recent.at < 2000 ? recent : undefined;
  }

  private previousSubnets(config: NetworkConfig, held: ReadLease[]): { subnet: IPNet; ipv6Subnet?: IPNet } | undefined {
    const { previousSubnet: subnet, previousIPv6Subnet: ipv6Subnet } = this.options;
    if (!subnet) return undefined;
    const v6 = config.enableIPv6 ? ipv6Subnet : undefined;
    if (!isCompatible(config, subnet, v6)) {
      this.logger.info({ subnet: String(subnet) }, 'the previous subnet from subnet.env does not fit the network config, ignoring it');
      return undefined;
    }
    const clash = held.some((r) => r.subnets.subnet.overlaps(subnet) || (v6 && r.subnets.ipv6Subnet?.overlaps(v6)));
    if (clash) return undefined;
    return v6 ? { subnet, ipv6Subnet: v6 } : { subnet };
  }

  private randomSubnets(config: NetworkConfig, held: ReadLease[]): { subnet: IPNet; ipv6Subnet?: IPNet } {
    const subnet = pickRandom(
      freeSubnets(
        config.subnetMin!,
        config.subnetMax!,
        config.subnetLen,
        held.map((r) => r.subnets.subnet),
      ),
      this.random,
    );
    if (!subnet) throw outOfSubnets('Network', config.network, held.length);
    if (!config.enableIPv6) return { subnet };
    const taken6 = held.flatMap((r) => (r.subnets.ipv6Subnet ? [r.subnets.ipv6Subnet] : []));
    const ipv6Subnet = pickRandom(freeSubnets(config.ipv6SubnetMin!, config.ipv6SubnetMax!, config.ipv6SubnetLen, taken6), this.random);
    if (!ipv6Subnet) throw outOfSubnets('IPv6Network', config.ipv6Network, held.length);
    return { subnet, ipv6Subnet };
  }

  /** Lists until it works; the watch has nothing to start from without a listing. */
  private async listWithRetry(): Promise<Listing> {
    const listing = await retryWithBackoff(
      (signal) => this.registry.list(AbortSignal.any([signal, AbortSignal.timeout(10_000)])),
      new AbortController().signal,
      {
        clock: this.clock,
        onError: (err, retryInMs) => this.logger.warn({ err: (err as Error).message, retryInMs }, 'waiting for the store to list leases'),
      },
    );
    return listing!;
  }

  /** A listing, its keys parsed; its age counts from the store's answer, not from the end of the parsing. */
  private async listNow(signal: AbortSignal): Promise<{ listing: ReadListing; at: number }> {
    const listed = await this.registry.list(signal);
    const at = this.clock.now().getTime();
    return { listing: await this.readListing(listed), at };
  }

  /** Parses a listing's keys, a slice per turn of the event loop: 20,000 of them are ~100 ms in one piece. */
  private async readListing({ entries, revision }: Listing): Promise<ReadListing> {
    const read: ReadLease[] = [];
    await this.inSlices(entries.length, (from, to) => {
      for (let i = from; i < to; i++) {
        const r = readSubnetKey(entries[i]!, this.logger);
        if (r) read.push(r);
      }
      return true;
    });
    return { read, revision };
  }

  /** The leases of keys read, values decoded a slice per turn (those decoded already are taken as they are). */
  private async leasesOf(read: ReadLease[]): Promise<Lease[]> {
    const leases: Lease[] = [];
    await this.inSlices(read.length, (from, to) => {
      for (let i = from; i < to; i++) {
        const r = read[i]!;
        const lease = readLeaseValue(r, this.logger);
        if (lease) leases.push(lease);
      }
      return true;
    });
    return leases;
  }

  /**
   * Hands 0..n-1 to `slice` as [from, to) ranges of at most CHANGES_PER_SLICE, each in a turn of the event loop
   * with room for it (the watch's changes count too). `slice` returns false to stop.
   */
  private async inSlices(n: number, slice: (from: number, to: number) => boolean): Promise<void> {
    for (let from = 0; from < n; from += CHANGES_PER_SLICE) {
      const to = Math.min(n, from + CHANGES_PER_SLICE);
      while (!this.fitsThisTurn(to - from)) await yieldToLoop();
      if (!slice(from, to)) return;
    }
  }

  /**
   * An update as watch results, read at most CHANGES_PER_SLICE changes per turn of the event loop: one update
   * of thousands of changes (a lease revoked under 5,000 keys is one etcd response), or dozens of small ones
   * that arrive in one network read (5,000 puts in transactions of 128), is read a slice at a time, so that
   * /healthz is never kept waiting. Updates that come meanwhile wait their turn (concatMap), in order. A
   * reset (the store listed again) is read in slices too.
   */
  private toWatchResults(update: RegistryUpdate): Observable<LeaseWatchResult> {
    if (update.kind === 'reset') {
      const snapshot = async (): Promise<LeaseWatchResult> => ({
        kind: 'snapshot',
        snapshot: await this.leasesOf((await this.readListing(update)).read),
        cursor: update.revision,
      });
      return defer(snapshot);
    }
    if (update.changes.length <= CHANGES_PER_SLICE && this.fitsThisTurn(update.changes.length)) {
      const result = this.toWatchResult(update);
      return result ? of(result) : EMPTY;
    }
    const { changes, revision } = update;
    return new Observable<LeaseWatchResult>((subscriber) => {
      let stopped = false;
      this.inSlices(changes.length, (from, to) => {
        if (stopped) return false;
        const result = this.toWatchResult({ kind: 'changes', changes: changes.slice(from, to), revision });
        if (result) subscriber.next(result);
        return true;
      }).then(
        () => subscriber.complete(),
        (err: unknown) => subscriber.error(err),
      );
      return () => {
        stopped = true;
      };
    });
  }

  /** Counts `n` changes against this turn's budget, unless that would overrun it (an empty turn takes any slice). */
  private fitsThisTurn(n: number): boolean {
    if (this.changesThisTurn > 0 && this.changesThisTurn + n > CHANGES_PER_SLICE) return false;
    if (this.changesThisTurn === 0) setImmediate(() => (this.changesThisTurn = 0));
    this.changesThisTurn += n;
    return true;
  }

  private toWatchResult(update: Extract<RegistryUpdate, { kind: 'changes' }>): LeaseWatchResult | undefined {
    const events: LeaseEvent[] = [];
    for (const change of update.changes) {
      if (change.type === 'put') {
        const lease = readStoredSubnet(change.entry, this.logger)?.lease;
        if (lease) events.push({ type: 'added', lease });
      } else {
        const subnets = deletedLease(change.key);
        if (subnets) events.push({ type: 'removed', lease: { ...subnets, attrs: {} } });
      }
    }
    return events.length ? { kind: 'events', events, cursor: update.revision } : undefined;
  }
}

export function leaseKey(lease: Lease): string {
  if (!lease.subnet) throw new Error('a stored lease always has an IPv4 subnet');
  return makeSubnetKey(lease.subnet, lease.ipv6Subnet);
}

function isOurs(stored: LeaseAttrs, ours: LeaseAttrs): boolean {
  if (ours.publicIP) return ours.publicIP.equals(stored.publicIP);
  return ours.publicIPv6 !== undefined && ours.publicIPv6.equals(stored.publicIPv6);
}

function withStored(lease: Lease, stored: StoredSubnet): Lease {
  lease.asof = stored.revision;
  if (stored.expiration) lease.expiration = stored.expiration;
  else delete lease.expiration;
  return lease;
}

function outOfSubnets(field: string, network: IPNet | undefined, held: number): UserError {
  return new UserError(
    field,
    `out of subnets: every subnet of ${String(network)} is leased or reserved (${held} keys)`,
    'delete stale leases or widen the network (or SubnetMin/SubnetMax)',
  );
}
