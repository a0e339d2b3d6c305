import { injectable } from 'inversify';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { NetworkStats, PeerTraffic, ReconcilerObserver } from '@flannel-ts/core';
import { LoopDelayMonitor, type LoopDelay } from './loop-delay.js';

/**
 * prom-client default metrics that break Prometheus' naming rules (`promtool check metrics`): gauges with a
 * `_total` suffix. Each duplicates a gauge without the suffix (nodejs_active_handles, ...).
 */
const NON_CONFORMING_DEFAULTS = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'];

/** prom-client's event-loop gauges, served from our LoopDelayMonitor instead (same names and meaning). */
const LOOP_DELAY_GAUGES: Record<keyof LoopDelay, string> = {
  min: 'nodejs_eventloop_lag_min_seconds',
  max: 'nodejs_eventloop_lag_max_seconds',
  mean: 'nodejs_eventloop_lag_mean_seconds',
  stddev: 'nodejs_eventloop_lag_stddev_seconds',
  p50: 'nodejs_eventloop_lag_p50_seconds',
  p90: 'nodejs_eventloop_lag_p90_seconds',
  p99: 'nodejs_eventloop_lag_p99_seconds',
};
/** prom-client always starts its own 10 ms sampler with its default metrics; at this period it never wakes. */
const PROM_CLIENT_SAMPLER_OFF_MS = 2 ** 31 - 1;

/**
 * What /metrics serves: Node's process metrics (RSS, event-loop delay, GC), and flanneld's own, named by
 * Prometheus' conventions (base units, `_total` on counters). It is also the engine's ReconcilerObserver.
 * The event-loop figures are reset at each scrape, so `nodejs_eventloop_lag_max_seconds` is the worst
 * stall since the previous scrape.
 */
@injectable()
export class DaemonMetrics implements ReconcilerObserver {
  readonly registry = new Registry();
  private readonly r = [this.registry];
  readonly ready = new Gauge({ name: 'flannel_ready', help: '1 while every readiness check passes (see /readyz)', registers: this.r });
  readonly buildInfo = new Gauge({
    name: 'flannel_build_info',
    help: 'always 1; the labels say which flanneld runs and with which backend',
    labelNames: ['version', 'backend'],
    registers: this.r,
  });
  readonly leaseExpiry = new Gauge({
    name: 'flannel_lease_expiration_timestamp_seconds',
    help: "when this node's lease expires unless renewed, in seconds since the Unix epoch",
    registers: this.r,
  });
  private readonly leaseEventsTotal = new Counter({
    name: 'flannel_lease_events_total',
    help: 'lease events received from the store, by type (added, removed, snapshot)',
    labelNames: ['type'],
    registers: this.r,
  });
  private readonly passesTotal = new Counter({
    name: 'flannel_reconcile_passes_total',
    help: 'passes of the reconciliation engine, by kind (events, resync) and result (ok, failed)',
    labelNames: ['kind', 'result'],
    registers: this.r,
  });
  private readonly repairsTotal = new Counter({
    name: 'flannel_repairs_total',
    help: 'kernel objects a resync had to put back, correct or remove, by kind (route, neigh, fdb, nexthop, device)',
    labelNames: ['kind'],
    registers: this.r,
  });
  private readonly netlinkOpsTotal = new Counter({ name: 'flannel_netlink_operations_total', help: 'netlink operations sent', registers: this.r });
  private readonly netlinkErrorsTotal = new Counter({
    name: 'flannel_netlink_errors_total',
    help: 'netlink operations that failed, by errno',
    labelNames: ['errno'],
    registers: this.r,
  });
  private readonly leaseToKernelSeconds = new Histogram({
    name: 'flannel_lease_to_kernel_seconds',
    help: "time from a lease event's arrival to the kernel holding what it asks for",
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: this.r,
  });
  readonly storeRequestsTotal = new Counter({
    name: 'flannel_store_requests_total',
    help: 'requests to the lease store, by operation',
    labelNames: ['op'],
    registers: this.r,
  });
  readonly storeErrorsTotal = new Counter({
    name: 'flannel_store_errors_total',
    help: 'failed requests to the lease store, by operation',
    labelNames: ['op'],
    registers: this.r,
  });
  readonly storeReconnectsTotal = new Counter({
    name: 'flannel_store_reconnects_total',
    help: 'times the lease store was reachable again after an outage',
    registers: this.r,
  });
  readonly storeUp = new Gauge({ name: 'flannel_store_up', help: '1 while the lease store answers', registers: this.r });
  readonly rulesResyncsTotal = new Counter({
    name: 'flannel_rules_resyncs_total',
    help: 'periodic checks of the traffic rules, by result (ok, failed)',
    labelNames: ['result'],
    registers: this.r,
  });
  readonly rulesRepairsTotal = new Counter({
    name: 'flannel_rules_repairs_total',
    help: 'traffic-rule chains found missing or changed and restored',
    registers: this.r,
  });

  private stats: (() => NetworkStats | undefined) | undefined;
  /** The backend's per-peer tunnel counters (wireguard), read at each scrape. */
  private traffic: (() => Promise<PeerTraffic[]> | undefined) | undefined;
  /** Told after every pass of the engine (readiness re-evaluates then). */
  onPass: (() => void) | undefined;

  /** Sampled finely only while there is work (see LoopDelayMonitor); reset at each scrape. */
  readonly loopDelay = new LoopDelayMonitor();

  constructor() {
    collectDefaultMetrics({ register: this.registry, eventLoopMonitoringPrecision: PROM_CLIENT_SAMPLER_OFF_MS });
    for (const name of [...NON_CONFORMING_DEFAULTS, ...Object.values(LOOP_DELAY_GAUGES)]) this.registry.removeSingleMetric(name);
    this.loopDelayMetrics();
    const peers: Gauge = new Gauge({
      name: 'flannel_peers',
      help: 'peer leases by state: programmed, partial (one family skipped) or skipped (see flannelctl status for why)',
      labelNames: ['state'],
      registers: this.r,
      collect: () => {
        // Counts the engine keeps, not its peer table: a scrape must stay cheap with thousands of peers.
        const s = this.stats?.();
        if (!s) return;
        const partial = s.partialPeers ?? 0;
        const counts = { programmed: s.peers - partial, partial, skipped: s.skippedPeers - partial };
        for (const [state, n] of Object.entries(counts)) peers.set({ state }, n);
      },
    });
    this.peerTrafficMetrics();
  }

  private loopDelayMetrics(): void {
    // The seven gauges of one scrape share one read (prom-client collects them all in one turn), then reset.
    let current: LoopDelay | undefined;
    const read = (): LoopDelay => {
      if (!current) {
        current = this.loopDelay.read();
        this.loopDelay.reset();
        setImmediate(() => (current = undefined));
      }
      return current;
    };
    for (const [figure, name] of Object.entries(LOOP_DELAY_GAUGES) as [keyof LoopDelay, string][]) {
      const g: Gauge = new Gauge({
        name,
        help: `${figure} of the event loop's delay since the previous scrape, in seconds`,
        registers: this.r,
        collect: () => g.set(read()[figure]),
      });
    }
  }

  /** Where the peer gauge reads from, once the backend's network exists; and its tunnel counters, if it has them. */
  watchNetwork(stats: () => NetworkStats | undefined, traffic?: () => Promise<PeerTraffic[]> | undefined): void {
    this.stats = stats;
    this.traffic = traffic;
  }

  /**
   * Per tunnel peer (wireguard): the latest handshake, and bytes received and sent, as the kernel counts them,
   * read once per scrape. Labelled by device, the peer's subnets and its public key. The byte counters restart
   * from zero when a device is recreated, which Prometheus' rate() takes as a counter reset.
   */
  private peerTrafficMetrics(): void {
    const labelNames = ['device', 'peer', 'public_key'];
    let reading: Promise<PeerTraffic[]> | undefined;
    // The three collectors of one scrape share one read of the kernel: prom-client calls them all in one turn.
    const read = (): Promise<PeerTraffic[]> => {
      reading ??= Promise.resolve(this.traffic?.() ?? [])
        .catch(() => [])
        .finally(() => (reading = undefined));
      return reading;
    };
    const labels = (p: PeerTraffic) => ({ device: p.device, peer: p.subnets.join(','), public_key: p.publicKey });
    const handshake: Gauge = new Gauge({
      name: 'flannel_peer_latest_handshake_timestamp_seconds',
      help: "a tunnel peer's latest handshake (wireguard), in seconds since the Unix epoch; absent before the first",
      labelNames,
      registers: this.r,
      collect: async () => {
        handshake.reset();
        for (const p of await read()) if (p.latestHandshake) handshake.set(labels(p), Date.parse(p.latestHandshake) / 1000);
      },
    });
    const counter = (name: string, help: string, value: (p: PeerTraffic) => number) => {
      const c: Counter = new Counter({
        name,
        help,
        labelNames,
        registers: this.r,
        collect: async () => {
          c.reset();
          for (const p of await read()) c.inc(labels(p), value(p));
        },
      });
    };
    counter('flannel_peer_receive_bytes_total', 'bytes received from a tunnel peer (wireguard), as the kernel counts them', (p) => p.rxBytes);
    counter('flannel_peer_transmit_bytes_total', 'bytes sent to a tunnel peer (wireguard), as the kernel counts them', (p) => p.txBytes);
  }

  leaseEvents(type: string, count: number): void {
    this.loopDelay.busy();
    this.leaseEventsTotal.inc({ type }, count);
  }

  passStarted(): void {
    this.loopDelay.busy();
  }

  reconcilePass(kind: 'events' | 'resync', ok: boolean): void {
    this.passesTotal.inc({ kind, result: ok ? 'ok' : 'failed' });
    this.onPass?.();
  }

  repaired(kind: string, count: number): void {
    this.repairsTotal.inc({ kind }, count);
  }

  netlinkOps(count: number, errors: ReadonlyMap<string, number>): void {
    this.netlinkOpsTotal.inc(count);
    for (const [errno, n] of errors) this.netlinkErrorsTotal.inc({ errno }, n);
  }

  leaseToKernel(seconds: number): void {
    this.leaseToKernelSeconds.observe(seconds);
  }
}
