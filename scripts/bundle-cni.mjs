// Bundles the CNI plugin into one executable file, cni/dist/flannel: it starts once per pod, so it loads
// one small module and nothing else.
import { chmodSync } from 'node:fs';
import { build } from 'esbuild';

const outfile = new URL('../cni/dist/flannel', import.meta.url).pathname;
await build({
  entryPoints: [new URL('../cni/src/main.ts', import.meta.url).pathname],
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  outfile,
  banner: { js: '#!/usr/bin/env node' },
  logLevel: 'warning',
});
chmodSync(outfile, 0o755);
