// Builds the CNI plugin, cni/dist/flannel, as one executable that needs no Node on the host: esbuild
// bundles the plugin into one CommonJS file, Node's single-executable support turns that into a blob with
// V8's code cache for it, and postject injects the blob into a copy of this Node binary (linux-amd64).
// Measured (150 interleaved pairs, a DEL with no state): the code cache saves about 1 ms of wall time over a
// plain blob and no CPU; a startup snapshot (useSnapshot) was no faster than the code cache, made the
// file 4.4 MB larger, and Node warns that child_process is not verified in snapshots. Either way Node's
// own start-up (~30 ms of CPU here) is nearly all of it.
//
//   node scripts/bundle-cni.mjs            the single executable (what `npm run build` makes)
//   node scripts/bundle-cni.mjs --script   a Node script instead, for quick iterations only: it needs
//                                           `node` in PATH, which most Kubernetes nodes do not have
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { build } from 'esbuild';

const root = new URL('..', import.meta.url).pathname;
const dist = join(root, 'cni', 'dist');
const out = join(dist, 'flannel');
// Per process: two builds at once (two people in one checkout) must not delete each other's files.
const work = join(dist, `sea-${process.pid}`);
// Node's own marker for "a SEA blob is present"; postject flips it when it injects NODE_SEA_BLOB.
const SEA_FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';

const bundle = (outfile, format, banner) =>
  build({
    entryPoints: [join(root, 'cni', 'src', 'bin.ts')],
    bundle: true,
    platform: 'node',
    target: 'node20',
    format,
    outfile,
    legalComments: 'none',
    logLevel: 'warning',
    ...(banner ? { banner: { js: banner } } : {}),
  });

/** Replaces `out` in one rename, so a test or runtime never runs half a file. */
function install(file) {
  chmodSync(file, 0o755);
  renameSync(file, out);
}

async function buildScript() {
  const tmp = `${out}.tmp`;
  await bundle(tmp, 'esm', '#!/usr/bin/env node');
  install(tmp);
}

function run(cmd, args, what, env = process.env) {
  try {
    return execFileSync(cmd, args, { cwd: work, env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    throw new Error(`${what} failed: ${err.stderr || err.message}`);
  }
}

async function buildExecutable() {
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  await bundle(join(work, 'flannel.cjs'), 'cjs');
  writeFileSync(
    join(work, 'sea-config.json'),
    JSON.stringify({ main: 'flannel.cjs', output: 'flannel.blob', disableExperimentalSEAWarning: true, useCodeCache: true }),
  );
  run(process.execPath, ['--experimental-sea-config', 'sea-config.json'], 'node --experimental-sea-config');
  const tmp = join(work, 'flannel');
  copyFileSync(process.execPath, tmp);
  const postject = join(dirname(createRequire(import.meta.url).resolve('postject')), 'cli.js');
  // postject's LIEF warns about every ELF note it cannot name; they are harmless, so its output is kept
  // out of the build log unless it fails.
  run(process.execPath, [postject, tmp, 'NODE_SEA_BLOB', 'flannel.blob', '--sentinel-fuse', SEA_FUSE], 'postject');
  // Smoke test with an environment that has no PATH at all, as a host without Node would look.
  const version = run(tmp, [], 'the new executable', { CNI_COMMAND: 'VERSION' }).trim();
  if (!version.includes('"supportedVersions"')) throw new Error(`the new executable answered VERSION with ${JSON.stringify(version)}`);
  install(tmp);
  rmSync(work, { recursive: true, force: true });
}

const wantScript = process.argv.includes('--script');
if (!wantScript && (process.platform !== 'linux' || process.arch !== 'x64')) {
  console.warn(`bundle-cni: the single executable is built for linux-amd64 only; building the script for ${process.platform}-${process.arch}`);
}
if (wantScript || process.platform !== 'linux' || process.arch !== 'x64') await buildScript();
else await buildExecutable();
