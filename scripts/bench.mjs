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
run('npx', ['tsc', '-b']);
run('node', ['scripts/bundle-kube-client.mjs']);
run('npx', ['tsc', '-p', 'test/tsconfig.tools.json']);
run('node', [`test/dist/bench/${name}.js`]);
