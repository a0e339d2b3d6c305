import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { inject, injectable } from 'inversify';
import { Logger, Netlink, UserError, type DataplaneDiff, type DiffEntry } from '@flannel-ts/core';
import { DaemonMetrics } from './metrics.js';
import { DaemonState, type Readiness } from './daemon-state.js';

/** One entry of `flannelctl diff`, with the device it is on. */
export interface DeviceDiffEntry extends DiffEntry {
  device: string;
}

export interface DiffDocument {
  /** False when the backend cannot tell (it does not run on core's engine). */
  supported: boolean;
  differs: boolean;
  missing: DeviceDiffEntry[];
  stale: DeviceDiffEntry[];
  different: DeviceDiffEntry[];
}

/**
 * The health listener (--healthz-ip:--healthz-port), as in Go flanneld plus what flannelctl reads:
 * - /healthz: liveness only, 200 while the process runs;
 * - /readyz: readiness as JSON, each check with its detail, 200 or 503 (`?verbose`: one line of text);
 * - /metrics: Prometheus text;
 * - /debug/status, /debug/diff: JSON for flannelctl.
 */
@injectable()
export class HealthServer {
  private server: Server | undefined;

  constructor(
    @inject(Logger) private readonly logger: Logger,
    @inject(DaemonMetrics) private readonly metrics: DaemonMetrics,
    @inject(DaemonState) private readonly state: DaemonState,
    @inject(Netlink) private readonly netlink: Netlink,
  ) {}

  async listen(ip: string, port: number): Promise<void> {
    const server = createServer((req, res) => {
      this.handle(req, res).catch((err: Error) => {
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' });
        res.end(err.message);
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err: NodeJS.ErrnoException) =>
        reject(new UserError('-healthz-port', `cannot listen on ${ip}:${port}: ${err.code ?? err.message}`, 'pick a free port and an address of this host')),
      );
      server.listen(port, ip, () => resolve());
    });
    this.server = server;
    this.logger.info({ address: `${ip}:${port}` }, 'serving /healthz, /readyz, /metrics and /debug/status');
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://flanneld');
    const text = (code: number, body: string) => res.writeHead(code, { 'content-type': 'text/plain; charset=utf-8' }).end(body);
    const json = (code: number, body: unknown) => res.writeHead(code, { 'content-type': 'application/json' }).end(`${JSON.stringify(body, null, 2)}\n`);
    switch (url.pathname) {
      case '/healthz':
        return void text(200, 'flanneld is running');
      case '/readyz': {
        const r = this.state.readiness();
        if (url.searchParams.has('verbose')) return void text(r.ready ? 200 : 503, readinessLine(r));
        return void json(r.ready ? 200 : 503, { ready: r.ready, failing: r.failing, checks: r.checks });
      }
      case '/metrics': {
        const body = await this.metrics.registry.metrics();
        return void res.writeHead(200, { 'content-type': this.metrics.registry.contentType }).end(body);
      }
      case '/debug/status': {
        const status = this.state.status();
        const tunnels = await this.state.network?.peerTraffic?.().catch((err: Error) => this.logger.warn({ err: err.message }, 'cannot read tunnel peers'));
        return void json(200, tunnels ? { ...status, tunnels } : status);
      }
      case '/debug/diff':
        return void json(200, await this.diff());
      default:
        return void text(404, 'not found; try /healthz, /readyz, /metrics or /debug/status');
    }
  }

  private async diff(): Promise<DiffDocument> {
    const network = this.state.network;
    if (!network?.diff) return { supported: false, differs: false, missing: [], stale: [], different: [] };
    const d: DataplaneDiff = await network.diff();
    const names = new Map((await this.netlink.linkList()).map((l) => [l.index, l.name]));
    const withDevice = (e: DiffEntry): DeviceDiffEntry => ({ ...e, device: deviceOf(e, names) });
    return {
      supported: true,
      differs: d.missing.length + d.stale.length + d.different.length > 0,
      missing: d.missing.map(withDevice),
      stale: d.stale.map(withDevice),
      different: d.different.map(withDevice),
    };
  }

  /** Graceful, but no longer than timeoutMs (Go gives its server 3 s). */
  async close(timeoutMs = 1000): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    await new Promise<void>((resolve) => {
      const t = setTimeout(() => {
        server.closeAllConnections();
        resolve();
      }, timeoutMs);
      server.close(() => {
        clearTimeout(t);
        resolve();
      });
      server.closeIdleConnections();
    });
  }
}

/** `ready: store ok, lease ok, ...` or `not ready: lease failed (no lease yet), ...`: Kubernetes' ?verbose, on one line. */
export function readinessLine(r: Readiness): string {
  const parts = Object.entries(r.checks).map(([name, c]) => (c.ok ? `${name} ok` : `${name} failed (${c.detail})`));
  return `${r.ready ? 'ready' : 'not ready'}: ${parts.join(', ')}`;
}

/** The device an entry is on: neigh/fdb keys carry the link index, routes and nexthops `dev N` in their value. */
function deviceOf(e: DiffEntry, names: Map<number, string>): string {
  const index = e.kind === 'neigh' || e.kind === 'fdb' ? Number(e.key.split(' ')[1]) : Number(/\bdev (\d+)/.exec(e.want ?? e.have ?? '')?.[1]);
  if (!Number.isInteger(index)) return e.kind === 'route' ? '(via nexthop)' : '-';
  return names.get(index) ?? `#${index}`;
}
