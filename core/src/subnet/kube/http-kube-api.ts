import http from 'node:http';
import https from 'node:https';
import type { KubeConfig } from './client-node.js';
import { KubeApiError, type KubeApi, type KubeList, type KubeNode, type ListOptions, type NodeWatchEvent, type WatchOptions } from './kube-api.js';

const STRATEGIC_MERGE = 'application/strategic-merge-patch+json';

/**
 * KubeApi over HTTPS, with the server, TLS settings and credentials of a client-node KubeConfig. Credentials
 * are asked of the KubeConfig for every request (a service account token file is re-read as it rotates);
 * connections are kept alive and shared. Nothing here logs a header.
 */
export class HttpKubeApi implements KubeApi {
  readonly server: string;
  private readonly base: URL;
  private agent: http.Agent | undefined;

  constructor(private readonly kc: KubeConfig) {
    const cluster = kc.getCurrentCluster();
    if (!cluster) throw new Error('the kubeconfig has no current cluster');
    this.server = cluster.server;
    this.base = new URL(cluster.server);
  }

  getNode(name: string, signal: AbortSignal): Promise<KubeNode> {
    return this.json('GET', `/api/v1/nodes/${encodeURIComponent(name)}`, signal);
  }

  getPod(namespace: string, name: string, signal: AbortSignal): Promise<{ spec?: { nodeName?: string } }> {
    return this.json('GET', `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods/${encodeURIComponent(name)}`, signal);
  }

  listNodes(opts: ListOptions, signal: AbortSignal): Promise<KubeList<KubeNode>> {
    const q = new URLSearchParams();
    if (opts.limit) q.set('limit', String(opts.limit));
    if (opts.continue) q.set('continue', opts.continue);
    if (opts.resourceVersion !== undefined) q.set('resourceVersion', opts.resourceVersion);
    return this.json('GET', `/api/v1/nodes?${q}`, signal);
  }

  patchNodeStatus(name: string, patch: object, signal: AbortSignal): Promise<KubeNode> {
    return this.json('PATCH', `/api/v1/nodes/${encodeURIComponent(name)}/status`, signal, JSON.stringify(patch), STRATEGIC_MERGE);
  }

  async watchNodes(opts: WatchOptions, signal: AbortSignal, onEvents: (events: NodeWatchEvent[]) => void, onOpen?: () => void): Promise<void> {
    const q = new URLSearchParams({
      watch: '1',
      resourceVersion: opts.resourceVersion,
      allowWatchBookmarks: 'true',
      timeoutSeconds: String(opts.timeoutSeconds),
    });
    // The server ends the watch after timeoutSeconds; a connection that silently died is given up a little later.
    const deadline = AbortSignal.any([signal, AbortSignal.timeout((opts.timeoutSeconds + 30) * 1000)]);
    const res = await this.send('GET', `/api/v1/nodes?${q}`, deadline);
    if (res.statusCode !== 200) throw await errorOf(res, 'GET', '/api/v1/nodes?watch=1');
    onOpen?.();
    res.setEncoding('utf8');
    await new Promise<void>((resolve, reject) => {
      let buffered = '';
      let failed = false;
      const fail = (err: Error) => {
        if (failed) return;
        failed = true;
        res.destroy();
        reject(err);
      };
      res.on('data', (chunk: string) => {
        buffered += chunk;
        const end = buffered.lastIndexOf('\n');
        if (end < 0) return;
        const lines = buffered.slice(0, end).split('\n');
        buffered = buffered.slice(end + 1);
        const events: NodeWatchEvent[] = [];
        for (const line of lines) {
          if (!line.trim()) continue;
          let ev: { type: string; object: Record<string, unknown> };
          try {
            ev = JSON.parse(line);
          } catch {
            return fail(new Error(`the node watch sent a line that is not JSON: ${line.slice(0, 100)}`));
          }
          if (ev.type === 'ERROR') {
            const st = ev.object as { code?: number; reason?: string; message?: string };
            return fail(new KubeApiError(st.code ?? 500, st.reason ?? '', `node watch: ${st.message ?? 'error'}`));
          }
          events.push({ type: ev.type as NodeWatchEvent['type'], node: ev.object as unknown as KubeNode });
        }
        if (events.length && !failed) {
          try {
            onEvents(events);
          } catch (err) {
            fail(err as Error);
          }
        }
      });
      res.on('end', () => (failed ? undefined : resolve()));
      res.on('error', (err) => fail(err));
      res.on('aborted', () => fail(new Error('the node watch connection was cut')));
      res.on('close', () =>
        res.complete ? undefined : fail(deadline.reason instanceof Error ? deadline.reason : new Error('the node watch connection closed')),
      );
    });
  }

  close(): void {
    this.agent?.destroy();
  }

  private async json<T>(method: string, path: string, signal: AbortSignal, body?: string, contentType?: string): Promise<T> {
    const res = await this.send(method, path, signal, body, contentType);
    const text = await readAll(res);
    if ((res.statusCode ?? 0) >= 300) throw errorFromText(res.statusCode ?? 0, text, method, path);
    return JSON.parse(text) as T;
  }

  private async send(method: string, path: string, signal: AbortSignal, body?: string, contentType?: string): Promise<http.IncomingMessage> {
    const opts: https.RequestOptions = {};
    await this.kc.applyToHTTPSOptions(opts);
    const agent = this.sharedAgent(opts);
    const headers: http.OutgoingHttpHeaders = { ...(opts.headers as http.OutgoingHttpHeaders), Accept: 'application/json' };
    if (body !== undefined) {
      headers['Content-Type'] = contentType ?? 'application/json';
      headers['Content-Length'] = Buffer.byteLength(body);
    }
    const url = new URL(path, this.base);
    const mod = url.protocol === 'http:' ? http : https;
    return new Promise((resolve, reject) => {
      const req = mod.request(url, { method, headers, agent, signal, ...(opts.auth ? { auth: opts.auth } : {}) }, resolve);
      req.on('error', (err) => reject(new Error(`${method} ${this.server}${url.pathname}: ${err.message}`, { cause: err })));
      req.end(body);
    });
  }

  /** One keep-alive agent with the kubeconfig's TLS settings (CA, client certificate, server name). */
  private sharedAgent(opts: https.RequestOptions): http.Agent {
    if (this.agent) return this.agent;
    if (this.base.protocol === 'http:') return (this.agent = new http.Agent({ keepAlive: true }));
    const tls: https.AgentOptions = { keepAlive: true };
    for (const k of ['ca', 'cert', 'key', 'pfx', 'passphrase', 'servername', 'rejectUnauthorized'] as const) {
      if (opts[k] !== undefined) (tls as Record<string, unknown>)[k] = opts[k];
    }
    return (this.agent = new https.Agent(tls));
  }
}

function readAll(res: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    res.on('data', (c: Buffer) => chunks.push(c));
    res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    res.on('error', reject);
  });
}

async function errorOf(res: http.IncomingMessage, method: string, path: string): Promise<KubeApiError> {
  return errorFromText(res.statusCode ?? 0, await readAll(res), method, path);
}

/** The API server's Status object, if it sent one, as a KubeApiError. */
function errorFromText(status: number, text: string, method: string, path: string): KubeApiError {
  let reason = '';
  let message = text.slice(0, 300);
  try {
    const st = JSON.parse(text) as { reason?: string; message?: string };
    reason = st.reason ?? '';
    message = st.message ?? message;
  } catch {
    // not a Status
  }
  return new KubeApiError(status, reason, `${method} ${path.split('?')[0]}: ${status} ${reason}: ${message}`);
}
