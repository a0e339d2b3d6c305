// The real kube-apiserver fixture (../shared/kube/, or $KUBE_APISERVER_DIR) for the kube suites: started once
// per test run with its own KUBE_RUN and free ports, stopped by the PIDs its script recorded, even after a
// failure (afterAll, and a process-exit hook as a last resort). test/kube/describe-kube.ts decides whether
// the suites run.
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** The repository's root: the nearest folder up from here whose package.json has workspaces. */
export function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg) && 'workspaces' in JSON.parse(readFileSync(pkg, 'utf8'))) return dir;
    const up = dirname(dir);
    if (up === dir) throw new Error('repository root not found');
    dir = up;
  }
}

/** Where the fixture is looked for: $KUBE_APISERVER_DIR, else shared/kube beside the repository. */
export function kubeFixtureDir(): string {
  return resolve(process.env.KUBE_APISERVER_DIR ?? join(repoRoot(), '..', 'shared', 'kube'));
}

async function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => res(port));
    });
  });
}

export interface KubeResponse<T = Record<string, unknown>> {
  status: number;
  body: T;
}

export class KubeFixture {
  readonly dir = kubeFixtureDir();
  readonly run: string;
  apiPort = 0;
  etcdPort = 0;
  private etcdPeerPort = 0;
  private stopped = false;
  private readonly onExit = () => this.stopSync();

  private constructor() {
    this.run = mkdtempSync(join(tmpdir(), 'fts-kube-'));
  }

  /** Starts etcd and kube-apiserver (5-20 s) and waits for /readyz. */
  static async start(): Promise<KubeFixture> {
    const f = new KubeFixture();
    process.once('exit', f.onExit);
    [f.apiPort, f.etcdPort, f.etcdPeerPort] = [await freePort(), await freePort(), await freePort()];
    try {
      await f.script('start-apiserver.sh');
    } catch (err) {
      f.stopSync();
      throw err;
    }
    return f;
  }

  get server(): string {
    return `https://127.0.0.1:${this.apiPort}`;
  }

  /** The kubeconfig the script wrote: contexts `admin` (current) and `agent` (the node-agent user, no rights until bound). */
  get kubeconfig(): string {
    return join(this.run, 'kubeconfig');
  }

  get caFile(): string {
    return join(this.run, 'pki', 'ca.crt');
  }

  token(user: 'admin' | 'node-agent'): string {
    const line = readFileSync(join(this.run, 'pki', 'tokens.csv'), 'utf8')
      .split('\n')
      .find((l) => l.split(',')[1] === user);
    return line!.split(',')[0]!;
  }

  /** Restarts only kube-apiserver against the same etcd (every object kept). */
  async restartApiServer(): Promise<void> {
    await this.script('start-apiserver.sh', { APISERVER_ONLY: '1' });
  }

  /** An etcd write that no API object sees: moves etcd's revision on, so a watch resumed from before it is too old after a restart. */
  async bumpEtcdRevision(): Promise<void> {
    await run('etcdctl', ['--endpoints', `http://127.0.0.1:${this.etcdPort}`, 'put', '/flannel-ts-test/bump', String(Date.now())], {
      env: { ...process.env, ETCDCTL_API: '3' },
    });
  }

  /** A request as `user` (admin by default). */
  request<T = Record<string, unknown>>(
    method: string,
    path: string,
    body?: unknown,
    opts: { user?: 'admin' | 'node-agent'; contentType?: string } = {},
  ): Promise<KubeResponse<T>> {
    const data = body === undefined ? undefined : JSON.stringify(body);
    return new Promise((res, rej) => {
      const req = https.request(
        `${this.server}${path}`,
        {
          method,
          ca: readFileSync(this.caFile),
          headers: {
            Authorization: `Bearer ${this.token(opts.user ?? 'admin')}`,
            Accept: 'application/json',
            ...(data ? { 'Content-Type': opts.contentType ?? 'application/json' } : {}),
          },
        },
        (r) => {
          let text = '';
          r.on('data', (c) => (text += c));
          r.on('end', () => res({ status: r.statusCode ?? 0, body: text ? JSON.parse(text) : {} }));
        },
      );
      req.on('error', rej);
      req.end(data);
    });
  }

  /** Like request, but throws unless the answer is 2xx. */
  async ok<T = Record<string, unknown>>(method: string, path: string, body?: unknown, contentType?: string): Promise<T> {
    const r = await this.request<T>(method, path, body, contentType ? { contentType } : {});
    if (r.status >= 300) throw new Error(`${method} ${path}: ${r.status} ${JSON.stringify(r.body).slice(0, 300)}`);
    return r.body;
  }

  /** Creates a Node as kube-controller-manager --allocate-node-cidrs would leave it: with its pod CIDR(s). */
  createNode(name: string, podCIDRs: string[], annotations: Record<string, string> = {}): Promise<Record<string, unknown>> {
    return this.ok('POST', '/api/v1/nodes', {
      apiVersion: 'v1',
      kind: 'Node',
      metadata: { name, annotations },
      spec: podCIDRs.length ? { podCIDR: podCIDRs[0], podCIDRs } : {},
    });
  }

  async getNode(name: string): Promise<{ metadata: { annotations?: Record<string, string> }; status?: { conditions?: Record<string, string>[] } }> {
    return this.ok('GET', `/api/v1/nodes/${name}`);
  }

  async annotateNode(name: string, annotations: Record<string, string | null>): Promise<void> {
    await this.ok('PATCH', `/api/v1/nodes/${name}`, { metadata: { annotations } }, 'application/strategic-merge-patch+json');
  }

  async deleteNode(name: string): Promise<void> {
    const r = await this.request('DELETE', `/api/v1/nodes/${name}`);
    if (r.status >= 300 && r.status !== 404) throw new Error(`DELETE node ${name}: ${r.status}`);
  }

  /** A kubeconfig for `user` with the fixture's CA; `server`/`tlsServerName` for reaching it at another address. */
  writeKubeconfig(file: string, user: 'admin' | 'node-agent', o: { server?: string; tlsServerName?: string } = {}): string {
    const ca = readFileSync(this.caFile).toString('base64');
    writeFileSync(
      file,
      [
        'apiVersion: v1',
        'kind: Config',
        'clusters:',
        '- name: fixture',
        '  cluster:',
        `    server: ${o.server ?? this.server}`,
        `    certificate-authority-data: ${ca}`,
        ...(o.tlsServerName ? [`    tls-server-name: ${o.tlsServerName}`] : []),
        'users:',
        `- name: ${user}`,
        '  user:',
        `    token: ${this.token(user)}`,
        'contexts:',
        `- name: ctx`,
        `  context: {cluster: fixture, user: ${user}}`,
        'current-context: ctx',
        '',
      ].join('\n'),
      { mode: 0o600 },
    );
    return file;
  }

  /** kubectl (Debian's kubernetes-client when scripts/install-deps.sh fetched it, else the one on PATH). */
  async kubectl(args: string[], input?: string): Promise<{ code: number; out: string }> {
    const cached = join(repoRoot(), '.cache', 'kubernetes-client', 'usr', 'bin', 'kubectl');
    const bin = existsSync(cached) ? cached : 'kubectl';
    return new Promise((res) => {
      const child = execFile(bin, ['--kubeconfig', this.kubeconfig, ...args], { maxBuffer: 1 << 24 }, (err, stdout, stderr) =>
        res({ code: err ? ((err as { code?: number }).code ?? 1) : 0, out: `${stdout}${stderr}` }),
      );
      if (input !== undefined) child.stdin!.end(input);
    });
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    process.off('exit', this.onExit);
    await this.script('stop-apiserver.sh').catch(() => undefined);
    rmSync(this.run, { recursive: true, force: true });
  }

  private stopSync(): void {
    if (this.stopped) return;
    this.stopped = true;
    try {
      execFileSync(join(this.dir, 'stop-apiserver.sh'), { env: this.env(), stdio: 'ignore' });
    } catch {
      // best effort at exit
    }
    rmSync(this.run, { recursive: true, force: true });
  }

  private env(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
    return {
      ...process.env,
      KUBE_RUN: this.run,
      API_PORT: String(this.apiPort),
      ETCD_PORT: String(this.etcdPort),
      ETCD_PEER_PORT: String(this.etcdPeerPort),
      KUBE_FAST: '1',
      READY_TIMEOUT: '180',
      ...extra,
    };
  }

  private async script(name: string, extra: Record<string, string> = {}): Promise<string> {
    try {
      const { stdout } = await run(join(this.dir, name), [], { env: this.env(extra), timeout: 240_000 });
      return stdout;
    } catch (err) {
      const e = err as { stdout?: string; stderr?: string; message: string };
      throw new Error(`${name} failed: ${e.message}\n${e.stdout ?? ''}${e.stderr ?? ''}`);
    }
  }
}
