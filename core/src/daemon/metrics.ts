import { collectDefaultMetrics, Gauge, Registry } from 'prom-client';

/**
 * What /metrics serves: Node's process metrics (RSS, event-loop delay, GC) and flanneld's readiness.
 * The event-loop figures are reset at each scrape, so `nodejs_eventloop_lag_max_seconds` is the worst
 * stall since the previous scrape.
 */
export class DaemonMetrics {
  readonly registry = new Registry();
  readonly ready = new Gauge({ name: 'flannel_ready', help: '1 once subnet.env is written and the backend runs', registers: [this.registry] });

  constructor() {
    collectDefaultMetrics({ register: this.registry, eventLoopMonitoringPrecision: 1 });
  }
}
