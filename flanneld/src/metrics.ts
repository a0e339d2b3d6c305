import { injectable } from 'inversify';
import { collectDefaultMetrics, Gauge, Registry } from 'prom-client';
import type { NetworkStats } from '@flannel-ts/core';

/**
 * What /metrics serves: Node's process metrics (RSS, event-loop delay, GC) and flanneld's readiness.
 * The event-loop figures are reset at each scrape, so `nodejs_eventloop_lag_max_seconds` is the worst
 * stall since the previous scrape.
 */
@injectable()
export class DaemonMetrics {
  readonly registry = new Registry();
  readonly ready = new Gauge({ name: 'flannel_ready', help: '1 once subnet.env is written and the backend runs', registers: [this.registry] });

  private stats: (() => NetworkStats) | undefined;

  constructor() {
    collectDefaultMetrics({ register: this.registry, eventLoopMonitoringPrecision: 1 });
    this.statGauge('flannel_peers', 'peers whose subnets the backend has programmed', 'peers');
    this.statGauge('flannel_skipped_peers', 'peers the backend left out (off our L2 segment, malformed lease)', 'skippedPeers');
  }

  private statGauge(name: string, help: string, key: keyof NetworkStats): void {
    const gauge: Gauge = new Gauge({
      name,
      help,
      registers: [this.registry],
      collect: () => {
        const s = this.stats?.();
        if (s) gauge.set(s[key]);
      },
    });
  }

  /** Where the peer gauges read from, once the backend's network exists. */
  watchNetwork(stats: () => NetworkStats): void {
    this.stats = stats;
  }
}
