// The --etcd-username/--etcd-password and --etcd-keyfile/--etcd-certfile/--etcd-cafile flags against a
// real etcd with auth enabled, and one that requires client certificates.
import { jest } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EtcdRegistry, etcdClientOptions, type EtcdConfig } from '@flannel-ts/core/internal/etcd';
import { RecordingLogger } from '@flannel-ts/core/testing';
import { startEtcd, type EtcdServer } from '../harness/etcd.js';
import { RUN_PREFIX } from '../harness/netns.js';
import { stopAllProcesses } from '../harness/processes.js';
import { DEADLINE } from '../harness/wait.js';

// Each test starts its own etcd (and one makes three RSA keys): seconds when idle, far more under load.
jest.setTimeout(DEADLINE.setupMs);

const PREFIX = '/coreos.com/network';
const CONFIG = '{"Network":"10.5.0.0/16","Backend":{"Type":"vxlan"}}';
const servers: EtcdServer[] = [];
const registries: EtcdRegistry[] = [];
let dir: string;

const etcdctl = (endpoint: string, ...args: string[]) => execFileSync('etcdctl', ['--endpoints', endpoint, '--dial-timeout=2s', ...args], { encoding: 'utf8' });
function registry(config: EtcdConfig, logger = new RecordingLogger()) {
  const r = new EtcdRegistry(etcdClientOptions(config, logger), PREFIX, logger);
  registries.push(r);
  return { r, logger };
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), `${RUN_PREFIX}etcd-sec-`));
});
afterAll(async () => {
  await Promise.all(registries.map((r) => r.close()));
  for (const s of servers) await s.destroy();
  await stopAllProcesses();
  rmSync(dir, { recursive: true, force: true });
});

describe('etcd basic auth', () => {
  it('reads the config with --etcd-username/--etcd-password and is refused without them', async () => {
    const etcd = await startEtcd();
    servers.push(etcd);
    etcdctl(etcd.endpoint, 'put', `${PREFIX}/config`, CONFIG);
    etcdctl(etcd.endpoint, 'role', 'add', 'root');
    etcdctl(etcd.endpoint, 'user', 'add', 'root', '--new-user-password=s3cret');
    etcdctl(etcd.endpoint, 'user', 'grant-role', 'root', 'root');
    etcdctl(etcd.endpoint, 'auth', 'enable');
    const withAuth = registry({ endpoints: etcd.endpoint, prefix: PREFIX, username: 'root', password: 's3cret' }).r;
    await expect(withAuth.getNetworkConfig(AbortSignal.timeout(DEADLINE.convergeMs))).resolves.toBe(CONFIG);
    const without = registry({ endpoints: etcd.endpoint, prefix: PREFIX }).r;
    await expect(without.getNetworkConfig(AbortSignal.timeout(DEADLINE.convergeMs))).rejects.toThrow(/user name is empty|permission denied/i);
  });
});

describe('etcd TLS', () => {
  it('connects with a client certificate, and does not warn about plain http', async () => {
    const ssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
    ssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=test-ca', '-keyout', 'ca.key', '-out', 'ca.crt');
    for (const [name, ext] of [
      ['server', 'subjectAltName=IP:127.0.0.1'],
      ['client', 'extendedKeyUsage=clientAuth'],
    ] as const) {
      ssl('req', '-newkey', 'rsa:2048', '-nodes', '-subj', `/CN=${name}`, '-keyout', `${name}.key`, '-out', `${name}.csr`);
      writeFileSync(join(dir, `${name}.ext`), `${ext}\n`);
      ssl(
        'x509',
        '-req',
        '-in',
        `${name}.csr`,
        '-CA',
        'ca.crt',
        '-CAkey',
        'ca.key',
        '-CAcreateserial',
        '-days',
        '1',
        '-extfile',
        `${name}.ext`,
        '-out',
        `${name}.crt`,
      );
    }
    const etcd = await startEtcd({ tls: { cert: join(dir, 'server.crt'), key: join(dir, 'server.key'), ca: join(dir, 'ca.crt') } });
    servers.push(etcd);
    etcdctl(
      etcd.endpoint,
      '--cacert',
      join(dir, 'ca.crt'),
      '--cert',
      join(dir, 'client.crt'),
      '--key',
      join(dir, 'client.key'),
      'put',
      `${PREFIX}/config`,
      CONFIG,
    );
    const { r, logger } = registry({
      endpoints: etcd.endpoint,
      prefix: PREFIX,
      keyfile: join(dir, 'client.key'),
      certfile: join(dir, 'client.crt'),
      cafile: join(dir, 'ca.crt'),
    });
    await expect(r.getNetworkConfig(AbortSignal.timeout(DEADLINE.convergeMs))).resolves.toBe(CONFIG);
    expect(logger.messages('warn')).not.toContain('connecting to etcd with http. This is insecure');
    expect(() =>
      etcdClientOptions({ endpoints: etcd.endpoint, prefix: PREFIX, keyfile: join(dir, 'nope.key'), certfile: join(dir, 'client.crt') }, logger),
    ).toThrow(/--etcd-keyfile: cannot read .*nope.key: ENOENT/);
    // A certificate given as the key, and the key given as the certificate: named before any connection.
    expect(() =>
      etcdClientOptions({ endpoints: etcd.endpoint, prefix: PREFIX, keyfile: join(dir, 'client.crt'), certfile: join(dir, 'client.crt') }, logger),
    ).toThrow(/--etcd-keyfile: .*client\.crt is not a PEM private key/);
    expect(() =>
      etcdClientOptions({ endpoints: etcd.endpoint, prefix: PREFIX, keyfile: join(dir, 'client.key'), certfile: join(dir, 'client.key') }, logger),
    ).toThrow(/--etcd-certfile: .*client\.key is not a PEM certificate/);
  });
});
