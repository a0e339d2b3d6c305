import { inject, injectable } from 'inversify';
import { Clock, Logger, type ExternalInterface, type Lease, type Network, type NetworkStatus, type PeerTraffic } from '@flannel-ts/core';
import { DaemonMetrics } from './metrics.js';

/** The readiness checks, in the order /readyz lists them. */
export const CHECKS = ['store', 'lease', 'subnetEnv', 'backend', 'peersSynced', 'rules'] as const;
export type CheckName = (typeof CHECKS)[number];

export interface CheckResult {
  ok: boolean;
  detail: string;
}

export interface Readiness {
  ready: boolean;
  checks: Record<CheckName, CheckResult>;
  /** The failing checks' names. */
  failing: CheckName[];
}

/** What `flannelctl status` shows: GET /debug/status. */
export interface StatusDocument {
  version: string;
  pid: number;
  startedAt: string;
  backend?: string;
  ready: boolean;
  checks: Record<CheckName, CheckResult>;
  store: { kind: string; endpoint: string; reachable: boolean; since?: string; lastError?: string };
  lease?: { subnet?: string; ipv6Subnet?: string; publicIP?: string; publicIPv6?: string; expiration?: string; backendData?: unknown };
  iface?: { name: string; mtu: number; address?: string };
  mtu?: number;
  rules?: { mode: string; chains: string[]; inPlace: boolean; lastResync?: string; lastError?: string };
  network?: NetworkStatus;
  /** Per tunnel peer (wireguard): endpoint, latest handshake, bytes; read from the kernel for this answer. */
  tunnels?: PeerTraffic[];
}

/**
 * Everything the daemon knows about itself, for /readyz, /debug/status and the readiness log line. The
 * startup sequence and the monitors report here; readiness is re-evaluated on every change, and the
 * transition to ready is logged once ("flannel is ready").
 */
@injectable()
export class DaemonState {
  version = 'v0.0.0';
  readonly startedAt: Date;
  backendType: string | undefined;
  store = { kind: 'etcd', endpoint: '', reachable: true } as StatusDocument['store'];
  lease: Lease | undefined;
  extIface: ExternalInterface | undefined;
  network: Network | undefined;
  rules: StatusDocument['rules'];
  subnetEnv: { path: string; written: boolean; error?: string } = { path: '', written: false };
  /** Why the backend stopped, once it has. */
  backendStopped: string | undefined;
  /** What startup is doing now, while it has not finished: named in /readyz and when flanneld stalls. */
  stage = 'starting';
  /** Set once we hold a lease: called when the store shows our own key written again (a renewal). */
  ownLeaseWritten: ((expiration: Date | undefined) => void) | undefined;
  private wasReady = false;

  constructor(
    @inject(Logger) private readonly logger: Logger,
    @inject(Clock) private readonly clock: Clock,
    @inject(DaemonMetrics) private readonly metrics: DaemonMetrics,
  ) {
    this.startedAt = clock.now();
    metrics.onPass = () => this.changed();
  }

  readiness(): Readiness {
    const now = this.clock.now();
    const c = {} as Record<CheckName, CheckResult>;
    const s = this.store;
    c.store = s.reachable
      ? { ok: true, detail: `${s.kind} at ${s.endpoint} reachable` }
      : { ok: false, detail: `${s.kind} at ${s.endpoint} unreachable since ${s.since}: ${s.lastError ?? 'no answer'}` };
    const lease = this.lease;
    if (!lease) c.lease = { ok: false, detail: `no lease yet (${this.stage})` };
    else if (lease.expiration && lease.expiration <= now)
      c.lease = { ok: false, detail: `lease ${leaseName(lease)} expired at ${lease.expiration.toISOString()}` };
    else c.lease = { ok: true, detail: `${leaseName(lease)} until ${lease.expiration?.toISOString() ?? 'never (reservation)'}` };
    const env = this.subnetEnv;
    c.subnetEnv = env.written
      ? { ok: true, detail: `${env.path} written` }
      : { ok: false, detail: env.error ? `cannot write ${env.path}: ${env.error}` : `${env.path || 'subnet.env'} not written yet` };
    if (this.backendStopped) c.backend = { ok: false, detail: this.backendStopped };
    else if (!this.network) c.backend = { ok: false, detail: this.backendType ? `the ${this.backendType} backend is not running yet` : 'no backend yet' };
    else c.backend = { ok: true, detail: `the ${this.backendType} backend is running` };
    // Counts, not the peer table: readiness is re-evaluated after every engine pass, and a table of
    // thousands of peers built each time stalled the event loop for seconds.
    const stats = this.network?.stats?.();
    if (!this.network) c.peersSynced = { ok: false, detail: 'no backend yet' };
    else if (!stats || stats.synced === undefined) c.peersSynced = { ok: true, detail: 'the backend does not report its peers' };
    else if (!stats.synced) c.peersSynced = { ok: false, detail: 'the first full sync of peers is not done yet' };
    else c.peersSynced = { ok: true, detail: `${stats.peers} of ${stats.peers + stats.skippedPeers - (stats.partialPeers ?? 0)} peers programmed` };
    const r = this.rules;
    if (!r) c.rules = { ok: false, detail: 'traffic rules not installed yet' };
    else if (!r.inPlace) c.rules = { ok: false, detail: `${r.mode} rules could not be restored: ${r.lastError ?? 'unknown error'}` };
    else c.rules = { ok: true, detail: r.chains.length ? `${r.mode}: ${r.chains.join(', ')}` : `${r.mode}: none asked for` };
    const failing = CHECKS.filter((k) => !c[k].ok);
    return { ready: failing.length === 0, checks: c, failing };
  }

  /** Re-evaluates readiness; logs the transitions and sets flannel_ready. */
  changed(): void {
    const r = this.readiness();
    this.metrics.ready.set(r.ready ? 1 : 0);
    if (r.ready && !this.wasReady) this.logger.info({ subnetFile: this.subnetEnv.path, mtu: this.network?.mtu }, 'flannel is ready');
    // info: whatever made it fail (a stopped backend, a store outage) has said so already, at its own level.
    if (!r.ready && this.wasReady) this.logger.info({ failing: Object.fromEntries(r.failing.map((k) => [k, r.checks[k].detail])) }, 'flannel is not ready');
    this.wasReady = r.ready;
  }

  status(): StatusDocument {
    const r = this.readiness();
    const lease = this.lease;
    const ext = this.extIface;
    const network = this.network?.status?.();
    return {
      version: this.version,
      pid: process.pid,
      startedAt: this.startedAt.toISOString(),
      ...(this.backendType ? { backend: this.backendType } : {}),
      ready: r.ready,
      checks: r.checks,
      store: { ...this.store },
      ...(lease
        ? {
            lease: {
              ...(lease.subnet ? { subnet: String(lease.subnet) } : {}),
              ...(lease.ipv6Subnet ? { ipv6Subnet: String(lease.ipv6Subnet) } : {}),
              ...(lease.attrs.publicIP ? { publicIP: String(lease.attrs.publicIP) } : {}),
              ...(lease.attrs.publicIPv6 ? { publicIPv6: String(lease.attrs.publicIPv6) } : {}),
              ...(lease.expiration ? { expiration: lease.expiration.toISOString() } : {}),
              ...(lease.attrs.backendData !== undefined ? { backendData: lease.attrs.backendData } : {}),
            },
          }
        : {}),
      ...(ext ? { iface: { name: ext.iface.name, mtu: ext.iface.mtu, ...(ext.extAddr ? { address: String(ext.extAddr) } : {}) } } : {}),
      ...(this.network ? { mtu: this.network.mtu } : {}),
      ...(this.rules ? { rules: { ...this.rules } } : {}),
      ...(network ? { network } : {}),
    };
  }
}

function leaseName(l: Lease): string {
  return [l.subnet, l.ipv6Subnet].filter(Boolean).join(' and ');
}
