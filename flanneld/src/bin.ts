// The flanneld entry point. `flanneld --version` answers before the daemon's modules are loaded (a
// liveness probe or an installer asks it often); everything else starts the daemon (main.ts).
import { readFileSync } from 'node:fs';

const VERSION_FLAG = /^--?version(=(1|t|T|TRUE|true|True))?$/;
const args = process.argv.slice(2);

if (args.length === 1 && VERSION_FLAG.test(args[0]!)) {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
  process.stderr.write(`v${pkg.version}\n`);
} else {
  await import('./main.js');
}
