import { createServer, type Server } from 'node:http';
import { inject, injectable } from 'inversify';
import { Logger, UserError } from '@flannel-ts/core';
import { DaemonMetrics } from './metrics.js';

/**
 * /healthz (always 200 while the process runs), /readyz (200 once subnet.env is written and the backend
 * runs; 503 with the reason otherwise) and /metrics (Prometheus text).
 */
@injectable()
export class HealthServer {
  private ready = false;
  private notReadyReason = 'flanneld is not ready yet';
  private server: Server | undefined;

  constructor(
    @inject(Logger) private readonly logger: Logger,
    @inject(DaemonMetrics) private readonly metrics: DaemonMetrics,
  ) {}

  setReady(): void {
    this.ready = true;
    this.metrics.ready.set(1);
  }

  /** Not ready any more, and why (a stopped backend): /readyz says so at once. */
  setUnready(reason: string): void {
    this.ready = false;
    this.notReadyReason = `flanneld is not ready: ${reason}`;
    this.metrics.ready.set(0);
  }

  async listen(ip: string, port: number): Promise<void> {
    const server = createServer((req, res) => {
      const path = (req.url ?? '').split('?')[0];
      res.setHeader('content-type', 'text/plain; charset=utf-8');
      if (path === '/healthz') {
        res.writeHead(200).end('flanneld is running');
      } else if (path === '/readyz') {
        if (this.ready) res.writeHead(200).end('flanneld is ready');
        else res.writeHead(503).end(this.notReadyReason);
      } else if (path === '/metrics') {
        this.metrics.registry.metrics().then(
          (text) => res.writeHead(200, { 'content-type': this.metrics.registry.contentType }).end(text),
          (err: Error) => res.writeHead(500).end(err.message),
        );
      } else {
        res.writeHead(404).end('not found; try /healthz, /readyz or /metrics');
      }
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err: NodeJS.ErrnoException) =>
        reject(new UserError('-healthz-port', `cannot listen on ${ip}:${port}: ${err.code ?? err.message}`, 'pick a free port and an address of this host')),
      );
      server.listen(port, ip, () => resolve());
    });
    this.server = server;
    this.logger.info({ address: `${ip}:${port}` }, 'serving /healthz, /readyz and /metrics');
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
