#!/usr/bin/env node
// The flannelctl executable. It exists before the first build, so that npm can link it at install time.
// It runs the bundle (scripts/bundle-flanneld.mjs) when there is one, else the compiled modules, and says
// what to do when neither is there yet. CommonJS, as bin/flanneld.js (bin/package.json).
'use strict';
const { existsSync } = require('node:fs');
const { join } = require('node:path');
const { pathToFileURL } = require('node:url');

const main = [join(__dirname, '..', 'bundle', 'flannelctl.js'), join(__dirname, '..', 'dist', 'ctl', 'main.js')].find((f) => existsSync(f));
if (!main) {
  process.stderr.write('flannelctl: not built yet; run `npm run build` in the flannel-ts checkout\n');
  process.exit(1);
}
import(pathToFileURL(main).href).catch((err) => {
  process.stderr.write(`flannelctl: cannot load ${main}: ${(err && err.stack) || err}\n`);
  process.exit(1);
});
