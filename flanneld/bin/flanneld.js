#!/usr/bin/env -S node --max-semi-space-size=4
// The flanneld executable. It exists before the first build, so that npm can link it at install time.
// It runs the bundle (scripts/bundle-flanneld.mjs) when there is one, else the compiled modules, and says
// what to do when neither is there yet.
//
// CommonJS (bin/package.json) and answering `--version` itself: a liveness probe or an installer asks for
// the version often, and this way Node starts without its ES module loader and loads none of the daemon.
//
// --max-semi-space-size=4 (V8's default is 16): a start's allocations grow the young generation to its
// maximum, twice over, and it stays that size. Measured side by side (npm run bench -- convergence, three
// pairs): RSS 118-120 MB instead of 135-136 with 5,000 peers, 80-83 instead of 85-87 with 1,000, and no
// slower start or live lag. At 1 MB starts were 8-10% slower. Whoever runs `node` directly (the image,
// the manifest) passes it too.
'use strict';
const { existsSync, readFileSync } = require('node:fs');
const { join } = require('node:path');
const { pathToFileURL } = require('node:url');

const args = process.argv.slice(2);
if (args.length === 1 && /^--?version(=(1|t|T|TRUE|true|True))?$/.test(args[0])) {
  const pkg = JSON.parse(readFileSync(join(__dirname, '..', 'package.json'), 'utf8'));
  process.stderr.write(`v${pkg.version}\n`);
} else {
  const entry = [join(__dirname, '..', 'bundle', 'flanneld.js'), join(__dirname, '..', 'dist', 'main.js')].find((f) => existsSync(f));
  if (!entry) {
    process.stderr.write('flanneld: not built yet; run `npm run build` in the flannel-ts checkout\n');
    process.exit(1);
  }
  // main.ts reports its own failures; a module that cannot even load fails here, as an uncaught error would.
  import(pathToFileURL(entry).href).catch((err) => {
    process.stderr.write(`flanneld: cannot load ${entry}: ${(err && err.stack) || err}\n`);
    process.exit(1);
  });
}
