// The flannel-ts image: scripts/build-image.sh builds it offline with buildah (FROM scratch, this machine's
// Debian packages and the built app); this suite builds it, then looks inside: entrypoint, files, that
// flanneld and install-cni run from its root filesystem, and its size.
import { jest } from '@jest/globals';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../harness/kube-apiserver.js';

jest.setTimeout(600_000);

const ROOT = repoRoot();
const TAG = `localhost/flannel-ts:${JSON.parse(readFileSync(join(ROOT, 'flanneld/package.json'), 'utf8')).version}`;
const env = { ...process.env, STORAGE_DRIVER: 'vfs' };
const buildah = (...args: string[]) => execFileSync('buildah', args, { env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
const hasBuildah = (() => {
  try {
    execFileSync('buildah', ['--version'], { stdio: 'ignore' });
    return process.getuid?.() === 0;
  } catch {
    return false;
  }
})();

(hasBuildah ? describe : describe.skip)('the flannel-ts image', () => {
  let container = '';
  let mnt = '';
  let buildOutput = '';

  beforeAll(() => {
    buildOutput = execFileSync(join(ROOT, 'scripts/build-image.sh'), [], { env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 540_000 });
    container = buildah('from', '--pull-never', TAG);
    mnt = buildah('mount', container);
  }, 600_000);

  afterAll(() => {
    if (container) {
      buildah('umount', container);
      buildah('rm', container);
    }
  });

  it('runs flanneld (node on the Debian root filesystem) as its entrypoint, with no shell', () => {
    const config = JSON.parse(buildah('inspect', '--type', 'image', TAG)).OCIv1.config;
    expect(config.Entrypoint).toEqual(['/usr/bin/node', '--max-semi-space-size=4', '/opt/flannel-ts/node_modules/@flannel-ts/flanneld/bin/flanneld.js']);
    expect(existsSync(join(mnt, 'bin/sh'))).toBe(false);
    // As Go flanneld, --version goes to stderr.
    const r = spawnSync('chroot', [mnt, ...config.Entrypoint, '--version'], { encoding: 'utf8', env: { PATH: '/usr/sbin:/usr/bin' } });
    expect(r.status).toBe(0);
    expect(r.stderr.trim()).toBe(`v${TAG.split(':')[1]}`);
  });

  it('has what the manifest runs: the CNI executable, install-cni, iptables and nft', () => {
    for (const f of ['opt/flannel-ts/cni/flannel', 'opt/flannel-ts/bin/install-cni.mjs', 'usr/sbin/iptables-restore', 'usr/sbin/nft', 'usr/bin/node']) {
      expect(existsSync(join(mnt, f))).toBe(true);
    }
    expect(statSync(join(mnt, 'opt/flannel-ts/cni/flannel')).mode & 0o111).toBe(0o111);
    const manifest = readFileSync(join(ROOT, 'deploy/kube-flannel-ts.yml'), 'utf8');
    for (const path of manifest.match(/\/opt\/flannel-ts\/[\w@/.-]+/g) ?? []) expect(existsSync(join(mnt, path))).toBe(true);
    expect(execFileSync('chroot', [mnt, '/usr/sbin/iptables-restore', '--version'], { encoding: 'utf8' })).toMatch(/nf_tables/);
  });

  it('installs the CNI plugin atomically with install-cni (the init containers)', () => {
    const dir = mkdtempSync(join(mnt, 'tmp/cni-'));
    try {
      const inside = dir.slice(mnt.length);
      execFileSync('chroot', [mnt, '/usr/bin/node', '/opt/flannel-ts/bin/install-cni.mjs', '/opt/flannel-ts/cni/flannel', `${inside}/flannel`], {
        stdio: 'ignore',
      });
      expect(statSync(join(dir, 'flannel')).size).toBe(statSync(join(mnt, 'opt/flannel-ts/cni/flannel')).size);
      expect(statSync(join(dir, 'flannel')).mode & 0o777).toBe(0o755);
      const out = execFileSync(join(dir, 'flannel'), [], { env: { CNI_COMMAND: 'VERSION' }, encoding: 'utf8' });
      expect(JSON.parse(out).supportedVersions).toContain('1.0.0');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('is at most 400 MB uncompressed (node twice: the daemon and the self-contained CNI executable)', () => {
    const size = Number(buildah('images', '--format', '{{.Size}}', '--noheading', TAG).replace(/ MB$/, ''));
    console.log(`RESULT image=${TAG} size_mb=${size} (${buildOutput.trim().split('\n').at(-1)})`);
    expect(size).toBeGreaterThan(50);
    expect(size).toBeLessThan(400);
  });
});
