// For scripts/build-image.sh: which installed packages flanneld needs at run time, found from this checkout
// (offline). Prints one line per package: `ws <dir> <name>` for a workspace package (packed with npm pack),
// `dep <source dir> <destination, relative to the app's folder>` for a third-party one, keeping the
// node_modules layout npm made, so that Node resolves every import as it does in the checkout.
import { existsSync, readFileSync, realpathSync } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';

const root = realpathSync(new URL('..', import.meta.url).pathname);
const workspaces = new Map(
  JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'))
    .workspaces.map((w) => join(root, w))
    .filter((d) => existsSync(join(d, 'package.json')))
    .map((d) => [JSON.parse(readFileSync(join(d, 'package.json'), 'utf8')).name, d]),
);
const wsDirs = new Map([...workspaces].map(([n, d]) => [d, n]));

/** Node's lookup: `name` in the nearest node_modules from `from` upwards. */
function resolvePackage(name, from) {
  for (let dir = from; ; dir = dirname(dir)) {
    const candidate = join(dir, 'node_modules', name);
    if (existsSync(join(candidate, 'package.json'))) return realpathSync(candidate);
    if (dir === root || dirname(dir) === dir) return undefined;
  }
}

/** Where a package found at `dir` goes in the image's app folder. */
function destination(dir) {
  const rel = relative(root, dir);
  for (const [wsDir, name] of wsDirs) {
    const wsRel = relative(root, wsDir);
    if (rel.startsWith(`${wsRel}${sep}node_modules${sep}`)) return join('node_modules', name, rel.slice(wsRel.length + 1));
  }
  return rel;
}

const seen = new Set();
const out = [];
const todo = [workspaces.get('@flannel-ts/flanneld')];
while (todo.length) {
  const dir = todo.pop();
  if (seen.has(dir)) continue;
  seen.add(dir);
  const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
  out.push(wsDirs.has(dir) ? `ws ${relative(root, dir)} ${pkg.name}` : `dep ${dir} ${destination(dir)}`);
  for (const [name, optional] of [
    ...Object.keys(pkg.dependencies ?? {}).map((n) => [n, false]),
    ...Object.keys(pkg.optionalDependencies ?? {}).map((n) => [n, true]),
  ]) {
    const found = resolvePackage(name, dir);
    if (found) todo.push(found);
    else if (!optional) throw new Error(`${pkg.name} needs ${name}, which is not installed; run npm ci`);
  }
}
console.log(out.sort().join('\n'));
