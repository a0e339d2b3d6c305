import { readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { injectable } from 'inversify';

/** Loads a module by package name or file path. Behind an interface so tests can hand in fake modules. */
export interface ModuleImporter {
  import(specifier: string): Promise<unknown>;
}
export const ModuleImporter = Symbol.for('flannel-ts.ModuleImporter');

/** A path as Backend.Type: absolute, or relative to the working directory. */
export function isPathSpecifier(type: string): boolean {
  return type.startsWith('/') || type.startsWith('./') || type.startsWith('../') || type === '.' || type === '..';
}

/** Node's own `import()`. A path to a folder is read as a package: its exports "." entry, else main, else index.js. */
@injectable()
export class NodeModuleImporter implements ModuleImporter {
  import(specifier: string): Promise<unknown> {
    return import(isPathSpecifier(specifier) ? resolvePathEntry(specifier) : specifier);
  }
}

function resolvePathEntry(specifier: string): string {
  const abs = resolve(process.cwd(), specifier);
  let isDir = false;
  try {
    isDir = statSync(abs).isDirectory();
  } catch {
    return abs; // let import() report the missing file
  }
  if (!isDir) return abs;
  let pkg: { main?: string; exports?: unknown } = {};
  try {
    pkg = JSON.parse(readFileSync(join(abs, 'package.json'), 'utf8')) as typeof pkg;
  } catch {
    return join(abs, 'index.js');
  }
  return join(abs, exportsEntry(pkg.exports) ?? pkg.main ?? 'index.js');
}

function exportsEntry(exports: unknown): string | undefined {
  if (typeof exports === 'string') return exports;
  if (typeof exports !== 'object' || exports === null) return undefined;
  const root = (exports as Record<string, unknown>)['.'] ?? exports;
  if (typeof root === 'string') return root;
  if (typeof root === 'object' && root !== null) {
    const r = root as Record<string, unknown>;
    const entry = r.import ?? r.node ?? r.default;
    return typeof entry === 'string' ? entry : undefined;
  }
  return undefined;
}
