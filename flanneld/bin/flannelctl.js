#!/usr/bin/env node
// The flannelctl executable. It exists before the first build, so that npm can link it at install time.
// It runs the bundle (scripts/bundle-flanneld.mjs) when there is one, else the compiled modules, and says
// what to do when neither is there yet.
import { existsSync } from 'node:fs';

const main = [new URL('../bundle/flannelctl.js', import.meta.url), new URL('../dist/ctl/main.js', import.meta.url)].find((u) => existsSync(u));
if (!main) {
  process.stderr.write('flannelctl: not built yet; run `npm run build` in the flannel-ts checkout\n');
  process.exit(1);
}
await import(main.href);
