// A real etcd (Debian etcd-server) per test suite: on loopback, or inside a namespace, on random ports with
// a fresh data dir under the run prefix. startEtcdCluster() runs several members that form one cluster.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RUN_PREFIX } from './netns.js';
import { startProcess, stopProcess, waitForOutput, type Started } from './processes.js';

export interface EtcdServer {
  endpoint: string;
  /** The member's name in its cluster. */
  name: string;
  pid(): number;
  /** SIGTERM and wait; the data dir is kept for start(). */
  stop(): Promise<void>;
  /** SIGKILL and wait: a crash, as far as the cluster can tell. The data dir is kept for start(). */
  kill(): Promise<void>;
  start(): Promise<void>;
  /** Stops and removes the data dir. */
  destroy(): Promise<void>;
  /** Data loss: stops, removes the data dir and starts again on the same endpoint, as a new cluster. */
  wipe(): Promise<void>;
  /** `etcdctl snapshot save` of this (single-member) server into `file`. */
  snapshot(file: string): void;
  /** A restore from backup: stops, replaces the data with `file` (an older snapshot) and starts again. */
  restore(file: string): Promise<void>;
}

const randomPort = () => 20000 + Math.floor(Math.random() * 20000);

export interface EtcdTLS {
  cert: string;
  key: string;
  ca: string;
}

export interface EtcdOptions {
  netns?: string;
  host?: string;
  tls?: EtcdTLS;
  /** etcd's --max-request-bytes (1.5 MiB by default), for values larger than that. */
  maxRequestBytes?: number;
}

/** With `tls`, etcd serves https and requires a client certificate signed by `ca`. */
export async function startEtcd(opts: EtcdOptions = {}): Promise<EtcdServer> {
  const host = opts.host ?? '127.0.0.1';
  const name = `${RUN_PREFIX}etcd`;
  for (let attempt = 1; ; attempt++) {
    const port = randomPort();
    const peer = `http://127.0.0.1:${port + 1}`;
    const server = etcdMember({ ...opts, name, host, port, peer, initialCluster: `${name}=${peer}`, state: 'new' });
    try {
      await server.start();
      return server;
    } catch (err) {
      await server.destroy();
      // The ports are picked at random: when something else holds one, pick again.
      if (attempt < 5 && /address already in use/.test((err as Error).message)) continue;
      throw err;
    }
  }
}

export interface EtcdCluster {
  members: EtcdServer[];
  /** Every member's client URL, comma-separated, as --etcd-endpoints takes them. */
  endpoints: string;
  /** The member that leads now (asked of the members that answer). */
  leader(): EtcdServer;
  /** Hands leadership to `member` (etcdctl move-leader, sent to the current leader). */
  makeLeader(member: EtcdServer): void;
  destroy(): Promise<void>;
}

/**
 * One etcd cluster of `hosts.length` members inside `netns`, member i serving clients on hosts[i] and
 * talking to its peers on hosts[i] too (the addresses must exist in the namespace). Resolves once every
 * member is ready.
 */
export async function startEtcdCluster(opts: { netns: string; hosts: string[] }): Promise<EtcdCluster> {
  const port = randomPort();
  const names = opts.hosts.map((_, i) => `${RUN_PREFIX}etcd${i}`);
  const peers = opts.hosts.map((h) => `http://${h}:${port + 1}`);
  const initialCluster = names.map((n, i) => `${n}=${peers[i]}`).join(',');
  const members = opts.hosts.map((host, i) =>
    etcdMember({ netns: opts.netns, name: names[i]!, host, port, peer: peers[i]!, initialCluster, state: 'new', token: `${RUN_PREFIX}cluster` }),
  );
  try {
    // Members of a new cluster wait for each other: start them all, then wait for each.
    await Promise.all(members.map((m) => m.start()));
  } catch (err) {
    await Promise.all(members.map((m) => m.destroy()));
    throw err;
  }
  const endpoints = members.map((m) => m.endpoint).join(',');
  const cluster: EtcdCluster = {
    members,
    endpoints,
    leader() {
      const running = members.filter((m) => m.pid() !== -1);
      const out = execFileSync(
        'ip',
        [
          'netns',
          'exec',
          opts.netns,
          'etcdctl',
          '--endpoints',
          running.map((m) => m.endpoint).join(','),
          '--dial-timeout=2s',
          '--command-timeout=5s',
          'endpoint',
          'status',
          '-w',
          'json',
        ],
        { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] },
      );
      // Member IDs are 64-bit: read them as text, not as numbers that lose their low digits.
      const status = JSON.parse(out.replace(/:(\d{16,})/g, ':"$1"')) as {
        Endpoint: string;
        Status: { header: { member_id: string | number }; leader: string | number };
      }[];
      const leaderId = String(status[0]!.Status.leader);
      const at = status.find((s) => String(s.Status.header.member_id) === leaderId);
      const leader = at && members.find((m) => m.endpoint === at.Endpoint);
      if (!leader) throw new Error(`no member leads: ${out}`);
      return leader;
    },
    makeLeader(member) {
      const etcdctl = (endpoints: string, ...args: string[]) =>
        execFileSync('ip', ['netns', 'exec', opts.netns, 'etcdctl', '--endpoints', endpoints, '--dial-timeout=2s', '--command-timeout=10s', ...args], {
          encoding: 'utf8',
          stdio: ['ignore', 'pipe', 'pipe'],
        });
      const current = cluster.leader();
      if (current === member) return;
      // "8e9e05c52164694d, started, NAME, PEER-URLS, CLIENT-URLS, false": the hex ID move-leader takes.
      const id = etcdctl(current.endpoint, 'member', 'list')
        .split('\n')
        .map((l) => l.split(', '))
        .find((f) => f[2] === member.name)?.[0];
      if (!id) throw new Error(`${member.name} is not a member`);
      etcdctl(current.endpoint, 'move-leader', id);
    },
    async destroy() {
      await Promise.all(members.map((m) => m.destroy()));
    },
  };
  return cluster;
}

interface MemberSpec extends EtcdOptions {
  name: string;
  host: string;
  port: number;
  peer: string;
  initialCluster: string;
  state: 'new' | 'existing';
  token?: string;
}

function etcdMember(spec: MemberSpec): EtcdServer {
  const dataDir = mkdtempSync(join(tmpdir(), `${RUN_PREFIX}etcd-`));
  const endpoint = `${spec.tls ? 'https' : 'http'}://${spec.host}:${spec.port}`;
  const args = [
    '--name',
    spec.name,
    '--data-dir',
    dataDir,
    '--listen-client-urls',
    endpoint,
    '--advertise-client-urls',
    endpoint,
    '--listen-peer-urls',
    spec.peer,
    '--initial-advertise-peer-urls',
    spec.peer,
    '--initial-cluster',
    spec.initialCluster,
    '--initial-cluster-state',
    spec.state,
    ...(spec.token ? ['--initial-cluster-token', spec.token] : []),
    ...(spec.maxRequestBytes ? ['--max-request-bytes', String(spec.maxRequestBytes)] : []),
    ...(spec.tls ? ['--cert-file', spec.tls.cert, '--key-file', spec.tls.key, '--trusted-ca-file', spec.tls.ca, '--client-cert-auth'] : []),
  ];
  let proc: Started | undefined;
  const server: EtcdServer = {
    endpoint,
    name: spec.name,
    pid: () => proc?.child.pid ?? -1,
    async start() {
      proc = startProcess('etcd', args, spec.netns ? { netns: spec.netns } : {});
      await waitForOutput(proc, (out) => out.includes('ready to serve client requests'), 60_000, `etcd ${spec.name} start`);
    },
    async stop() {
      if (proc) await stopProcess(proc.child);
      proc = undefined;
    },
    async kill() {
      if (proc) await stopProcess(proc.child, 0, 'SIGKILL');
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
    snapshot(file: string) {
      const cmd = ['etcdctl', '--endpoints', endpoint, '--command-timeout=30s', 'snapshot', 'save', file];
      if (spec.netns) execFileSync('ip', ['netns', 'exec', spec.netns, ...cmd], { stdio: 'pipe' });
      else execFileSync(cmd[0]!, cmd.slice(1), { stdio: 'pipe' });
    },
    async restore(file: string) {
      await server.stop();
      rmSync(dataDir, { recursive: true, force: true });
      const restoreArgs = ['--name', spec.name, '--initial-cluster', spec.initialCluster, '--initial-advertise-peer-urls', spec.peer];
      execFileSync(
        'etcdctl',
        ['snapshot', 'restore', file, '--data-dir', dataDir, ...restoreArgs, ...(spec.token ? ['--initial-cluster-token', spec.token] : [])],
        {
          stdio: 'pipe',
          env: { ...process.env, ETCDCTL_API: '3' },
        },
      );
      await server.start();
    },
  };
  return server;
}
