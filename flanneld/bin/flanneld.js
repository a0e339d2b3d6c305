#!/usr/bin/env node
// The flanneld executable. It exists before the first build, so that npm can link it at install time,
// and says what to do when the compiled daemon is not there yet.
import { existsSync } from 'node:fs';

const main = new URL('../dist/main.js', import.meta.url);
if (!existsSync(main)) {
  process.stderr.write('flanneld: not built yet; run `npm run build` in the flannel-ts checkout\n');
  process.exit(1);
}
await import(main.href);
