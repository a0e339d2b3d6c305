// The udp backend's Network: core's reconciliation engine on flanneld's event loop, the data path on a worker.
//
// The engine follows the lease stream into the proxy's table (one entry per peer subnet, written through
// withProxyTable) and keeps flannel0, its address, its route and the proxy's queue as registerNetwork left
// them (UdpDataplane.ensureDevices, on a kernel notification, at the periodic resync, after a failed repair). What is
// udp's own here: the worker's life (started before the engine, stopped after it, its failure ending the
// Network) and the report of what it dropped. No packet touches this thread, so /healthz and lease events
// are answered whatever the traffic.
import {
  DEFAULT_TIMING,
  every,
  reconciledNetwork,
  type BackendContext,
  type JsonValue,
  type Lease,
  type Network,
  type NetworkConfig,
  type ReconcilerTiming,
} from '@flannel-ts/core';
import type { ProxyCounters } from './counters.js';
import type { DataPath } from './data-path.js';
import type { Flannel0 } from './device.js';
import { ProxyTableMirror, withProxyTable } from './proxy-entries.js';
import { UdpDataplane } from './udp-dataplane.js';

export interface UdpTiming extends ReconcilerTiming {
  /** Data path drops are logged at most this often. */
  reportMs: number;
}

export const UDP_TIMING: UdpTiming = { ...DEFAULT_TIMING, reportMs: 60_000 };

export interface UdpNetworkOptions {
  lease: Lease;
  mtu: number;
  config: NetworkConfig;
  port: number;
  device: Flannel0;
  dataPath: DataPath;
  /** What the data path does beyond the basics (GSO, GRO), for status. */
  details: Record<string, JsonValue>;
  timing?: Partial<UdpTiming>;
}

const DROPS: (keyof ProxyCounters)[] = ['noRoute', 'ttlExpired', 'malformed', 'foreign', 'sendDropped', 'tunWriteDropped', 'receiveErrors', 'tunReadErrors'];

export function udpNetwork(ctx: BackendContext, o: UdpNetworkOptions): Network {
  const timing = { ...UDP_TIMING, ...o.timing };
  const { dataPath, device } = o;
  const table = new ProxyTableMirror(dataPath);
  const dataplane = new UdpDataplane({ device, dataPath, table, port: o.port, logger: ctx.logger });
  const engine = reconciledNetwork(
    { ...ctx, netlink: withProxyTable(ctx.netlink, table) },
    {
      lease: o.lease,
      mtu: o.mtu,
      config: o.config,
      dataplane,
      timing,
      details: () => ({ device: device.name, port: o.port, ...o.details, counters: { ...dataPath.counters() } }),
    },
  );
  return { ...engine, run: (signal) => run(ctx, o, timing, engine, signal) };
}

/** The data path's life around the engine's: started first, stopped last; its failure ends the Network. */
async function run(ctx: BackendContext, o: UdpNetworkOptions, timing: UdpTiming, engine: Network, signal: AbortSignal): Promise<void> {
  const { logger } = ctx;
  const { dataPath, device } = o;
  dataPath.onNotice((n) => {
    // A lost queue is put back by the next check: the device's deletion that caused it is on its way from
    // the kernel's monitor, and ensureDevices looks at the queue on every check.
    if (n.type === 'tun-lost') logger.warn({ device: device.name, err: n.code }, 'the udp proxy lost its flannel0 queue; it gets a new one at the next check');
    else if (n.type === 'nice-refused') logger.warn({ err: n.code }, "cannot lower the udp proxy thread's priority; the event loop may wait behind it");
    else if (n.type === 'gso-off') logger.warn({ peer: n.peer, err: n.code }, 'UDP GSO refused on the way to a peer; sending it one datagram per message');
  });
  try {
    await dataPath.start();
  } catch (err) {
    throw new Error(`the udp data path did not start: ${(err as Error).message}`);
  }
  let failure: Error | undefined;
  const done = new AbortController();
  dataPath.ended.catch((err: Error) => {
    failure ??= err;
    done.abort();
  });
  const live = AbortSignal.any([signal, done.signal]);
  const drops = reportDrops(ctx, dataPath, timing.reportMs, live);
  try {
    await engine.run(live);
  } finally {
    done.abort();
    await drops;
    await dataPath.stop();
  }
  if (failure) throw failure;
}

/** Logs what the data path dropped, at most every reportMs, when it dropped anything. */
async function reportDrops(ctx: BackendContext, dataPath: DataPath, reportMs: number, signal: AbortSignal): Promise<void> {
  let last = dataPath.counters();
  await every(
    reportMs,
    signal,
    ctx.clock,
    async () => {
      const now = dataPath.counters();
      const dropped = Object.fromEntries(DROPS.map((k) => [k, now[k] - last[k]]).filter(([, n]) => (n as number) > 0));
      if (Object.keys(dropped).length > 0) ctx.logger.info({ dropped, since: `${reportMs / 1000} s` }, 'udp data path dropped packets');
      last = now;
    },
    () => undefined,
  );
}
