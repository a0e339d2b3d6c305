#!/usr/bin/env node
// The flanneld executable. It exists before the first build, so that npm can link it at install time.
// It runs the bundle (scripts/bundle-flanneld.mjs) when there is one, else the compiled modules, and says
// what to do when neither is there yet.
import { existsSync } from 'node:fs';

const entry = [new URL('../bundle/flanneld.js', import.meta.url), new URL('../dist/bin.js', import.meta.url)].find((u) => existsSync(u));
if (!entry) {
  process.stderr.write('flanneld: not built yet; run `npm run build` in the flannel-ts checkout\n');
  process.exit(1);
}
await import(entry.href);
