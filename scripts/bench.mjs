// npm run bench -- NAME: builds, then runs test/bench/NAME.ts, which prints RESULT key=value lines.
import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';

const names = readdirSync(new URL('../test/bench/', import.meta.url))
  .filter((f) => f.endsWith('.ts'))
  .map((f) => f.slice(0, -3));
const name = process.argv[2];
if (!name || !names.includes(name)) {
  console.error(`usage: npm run bench -- NAME   (one of: ${names.join(', ')})`);
  process.exit(2);
}
const run = (cmd, args) => execFileSync(cmd, args, { stdio: 'inherit', cwd: new URL('..', import.meta.url) });
// The whole build, bundles included: bin/flanneld.js runs the bundle when there is one, and a bench must
// measure what a user runs, not the unbundled modules that a fresh clone would otherwise fall back to.
run('npm', ['run', '--silent', 'build']);
run('npx', ['tsc', '-p', 'test/tsconfig.tools.json']);
run('node', [`test/dist/bench/${name}.js`]);
