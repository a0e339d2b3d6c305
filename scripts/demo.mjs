// npm run demo [-- --backend TYPE --nodes N --hold]: installs what is missing, builds, and runs
// test/demo/demo.ts (a few flanneld nodes in network namespaces, pods pinging across).
import { execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';

const root = new URL('..', import.meta.url);
const run = (cmd, args) => execFileSync(cmd, args, { stdio: 'inherit', cwd: root });
try {
  run('scripts/install-deps.sh', ['--demo']);
  if (!existsSync(new URL('node_modules/typescript', root))) run('npm', ['ci', '--no-audit', '--no-fund']);
  console.error('demo: building...');
  run('npm', ['run', '--silent', 'build']);
  run('npx', ['tsc', '-p', 'test/tsconfig.tools.json']);
} catch (err) {
  console.error(`demo: setup failed: ${err.message}`);
  process.exit(1);
}
// Ctrl-C reaches the demo too (same process group); it cleans up and exits, and we pass its code on.
process.on('SIGINT', () => {});
process.on('SIGTERM', () => {});
const child = spawn('node', ['test/dist/demo/demo.js', ...process.argv.slice(2)], { stdio: 'inherit', cwd: root });
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 128 : 1)));
