import { createServer, type Server } from 'node:http';
import type { Logger } from '../contracts/logger.js';
import { UserError } from '../errors/user-error.js';

/** /healthz (always 200 while the process runs) and /readyz (200 once subnet.env is written and the backend runs). */
export class HealthServer {
  private ready = false;
  private server: Server | undefined;

  constructor(private readonly logger: Logger) {}

  setReady(): void {
    this.ready = true;
  }

  async listen(ip: string, port: number): Promise<void> {
    const server = createServer((req, res) => {
      const path = (req.url ?? '').split('?')[0];
      res.setHeader('content-type', 'text/plain; charset=utf-8');
      if (path === '/healthz') {
        res.writeHead(200).end('flanneld is running');
      } else if (path === '/readyz') {
        if (this.ready) res.writeHead(200).end('flanneld is ready');
        else res.writeHead(503).end('flanneld is not ready yet');
      } else {
        res.writeHead(404).end('not found; try /healthz or /readyz');
      }
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err: NodeJS.ErrnoException) =>
        reject(new UserError('-healthz-port', `cannot listen on ${ip}:${port}: ${err.code ?? err.message}`, 'pick a free port and an address of this host')),
      );
      server.listen(port, ip, () => resolve());
    });
    this.server = server;
    this.logger.info({ address: `${ip}:${port}` }, 'serving /healthz and /readyz');
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
