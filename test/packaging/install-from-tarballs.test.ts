// The path a user takes without the checkout: `npm pack` the workspace packages, install flanneld from
// the tarballs into an empty folder, install a plugin into a plugin folder, and run both.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { addUnderlay, cleanupNetns, createNetns } from '../harness/netns.js';
import { startProcess, stopAllProcesses, stopProcess, waitForOutput } from '../harness/processes.js';
import { DEADLINE } from '../harness/wait.js';

const REPO = resolve(fileURLToPath(new URL('.', import.meta.url)), '../..');
// ipsec/vici: the ipsec backend's VICI client, a dependency of @flannel-ts/ipsec that is on no registry.
const PACKAGES = ['core', 'backends', 'vxlan', 'host-gw', 'ipip', 'udp', 'ipsec', 'ipsec/vici', 'extension', 'wireguard', 'flanneld'];
const npm = (cwd: string, ...args: string[]) => execFileSync('npm', [...args, '--no-audit', '--no-fund', '--loglevel=error'], { cwd, encoding: 'utf8' });

let dir: string;
let app: string;
let plugins: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'flannel-install-'));
  const packs = join(dir, 'packs');
  app = join(dir, 'app');
  plugins = join(dir, 'plugins');
  mkdirSync(packs);
  npm(REPO, 'pack', '--pack-destination', packs, ...PACKAGES.flatMap((p) => ['-w', p]));
  npm(join(REPO, 'test/fixtures/flannel-backend-example'), 'pack', '--pack-destination', packs);
  const tarballs = readdirSync(packs);
  // flanneld and the packages it depends on, from the tarballs; their own dependencies from the registry.
  npm(dir, 'install', '--prefix', app, '--prefer-offline', ...tarballs.filter((t) => t.startsWith('flannel-ts-')).map((t) => join(packs, t)));
  npm(
    dir,
    'install',
    '--prefix',
    plugins,
    '--omit=peer',
    '--prefer-offline',
    join(
      packs,
      tarballs.find((t) => t.startsWith('flannel-backend-example'))!,
    ),
  );
}, DEADLINE.setupMs * 2);

afterAll(async () => {
  await stopAllProcesses();
  cleanupNetns();
  rmSync(dir, { recursive: true, force: true });
});

describe('flanneld installed from the packed tarballs', () => {
  it('packs only what a user needs: compiled code and the bin, no sources or tests', () => {
    const listing = npm(REPO, 'pack', '--dry-run', '--json', '-w', 'flanneld');
    const files = (JSON.parse(listing) as { files: { path: string }[] }[])[0]!.files.map((f) => f.path);
    expect(files).toContain('bin/flanneld.js');
    expect(files).toContain('dist/main.js');
    expect(files.filter((f) => f.startsWith('src/') || f.endsWith('.test.js'))).toEqual([]);
  });

  it('runs: flanneld --version (on stderr, as Go flanneld prints it)', () => {
    const r = spawnSync(join(app, 'node_modules/.bin/flanneld'), ['--version'], { encoding: 'utf8' });
    expect([r.status, r.stderr.trim()]).toEqual([0, 'v0.1.0']);
  });

  it('loads a plugin installed into a plugin folder, and becomes ready with it', async () => {
    const ns = createNetns('inst');
    addUnderlay(ns, '192.0.2.10/24');
    const netConf = join(dir, 'net-conf.json');
    writeFileSync(netConf, JSON.stringify({ Network: '10.60.0.0/16', EnableNFTables: true, Backend: { Type: 'example', Greeting: 'hello' } }));
    const p = startProcess(
      join(app, 'node_modules/.bin/flanneld'),
      [
        '--embedded-subnet-mgr',
        `--embedded-store-path=${join(dir, 'leases.jsonl')}`,
        `--net-config-path=${netConf}`,
        `--subnet-file=${join(dir, 'subnet.env')}`,
        `--plugin-dir=${plugins}`,
        '--iface=eth0',
      ],
      { netns: ns },
    );
    await waitForOutput(p, (out) => out.includes('flannel is ready'), DEADLINE.readyMs, 'flanneld with the example plugin');
    expect(p.output()).toContain(`"package":"flannel-backend-example"`);
    expect(p.output()).toContain('example backend has a lease');
    expect(await stopProcess(p.child)).toBe(0);
  });
});
