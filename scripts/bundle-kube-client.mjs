// Replaces core/dist/subnet/kube/client-node.js (tsc's one-line re-export of @kubernetes/client-node's
// KubeConfig) with an esbuild bundle of what KubeConfig needs. The package loaded whole costs about 1 s and
// 60 MB of RSS here (2,500 generated API model files, most never used); the bundle loads in ~0.2 s and
// ~15 MB. Only kube mode loads it. Idempotent: a bundled file is left alone.
import { readFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';

const root = new URL('..', import.meta.url).pathname;
const file = join(root, 'core', 'dist', 'subnet', 'kube', 'client-node.js');
const MARK = '// flannel-ts: bundled by scripts/bundle-kube-client.mjs';

if (!readFileSync(file, 'utf8').startsWith(MARK)) {
  const tmp = `${file}.tmp`;
  await build({
    entryPoints: [file],
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'esm',
    outfile: tmp,
    legalComments: 'none',
    logLevel: 'warning',
    // CommonJS dependencies call require() for Node's own modules.
    banner: { js: `${MARK}\nimport { createRequire as __flannelCreateRequire } from 'node:module';\nconst require = __flannelCreateRequire(import.meta.url);` },
  });
  renameSync(tmp, file);
}
