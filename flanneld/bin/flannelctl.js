#!/usr/bin/env node
// The flannelctl executable. It exists before the first build, so that npm can link it at install time,
// and says what to do when the compiled tool is not there yet.
import { existsSync } from 'node:fs';

const main = new URL('../dist/ctl/main.js', import.meta.url);
if (!existsSync(main)) {
  process.stderr.write('flannelctl: not built yet; run `npm run build` in the flannel-ts checkout\n');
  process.exit(1);
}
await import(main.href);
