// A real etcd (Debian etcd-server) per test suite: on loopback, or inside a namespace, on random ports with
// a fresh data dir under the run prefix.
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RUN_PREFIX } from './netns.js';
import { startProcess, stopProcess, waitForOutput, type Started } from './processes.js';

export interface EtcdServer {
  endpoint: string;
  pid(): number;
  /** SIGTERM and wait; the data dir is kept for start(). */
  stop(): Promise<void>;
  start(): Promise<void>;
  /** Stops and removes the data dir. */
  destroy(): Promise<void>;
  /** Data loss: stops, removes the data dir and starts again on the same endpoint, as a new cluster. */
  wipe(): Promise<void>;
}

const randomPort = () => 20000 + Math.floor(Math.random() * 20000);

export interface EtcdTLS {
  cert: string;
  key: string;
  ca: string;
}

/** With `tls`, etcd serves https and requires a client certificate signed by `ca`. */
export async function startEtcd(opts: { netns?: string; host?: string; tls?: EtcdTLS } = {}): Promise<EtcdServer> {
  const host = opts.host ?? '127.0.0.1';
  const port = randomPort();
  const peerPort = port + 1;
  const dataDir = mkdtempSync(join(tmpdir(), `${RUN_PREFIX}etcd-`));
  const name = `${RUN_PREFIX}etcd`;
  const endpoint = `${opts.tls ? 'https' : 'http'}://${host}:${port}`;
  const args = [
    '--name',
    name,
    '--data-dir',
    dataDir,
    '--listen-client-urls',
    endpoint,
    '--advertise-client-urls',
    endpoint,
    '--listen-peer-urls',
    `http://127.0.0.1:${peerPort}`,
    '--initial-advertise-peer-urls',
    `http://127.0.0.1:${peerPort}`,
    '--initial-cluster',
    `${name}=http://127.0.0.1:${peerPort}`,
    ...(opts.tls ? ['--cert-file', opts.tls.cert, '--key-file', opts.tls.key, '--trusted-ca-file', opts.tls.ca, '--client-cert-auth'] : []),
  ];
  let proc: Started | undefined;
  const server: EtcdServer = {
    endpoint,
    pid: () => proc?.child.pid ?? -1,
    async start() {
      proc = startProcess('etcd', args, opts.netns ? { netns: opts.netns } : {});
      await waitForOutput(proc, (out) => out.includes('ready to serve client requests'), 15_000, 'etcd start');
    },
    async stop() {
      if (proc) await stopProcess(proc.child);
      proc = undefined;
    },
    async destroy() {
      await server.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
    async wipe() {
      await server.stop();
      rmSync(dataDir, { recursive: true, force: true });
      mkdirSync(dataDir, { mode: 0o700 });
      await server.start();
    },
  };
  await server.start();
  return server;
}
