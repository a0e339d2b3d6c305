import { existsSync, readFileSync, statSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { inject, injectable, optional } from 'inversify';
import { UserError } from '@flannel-ts/core';
import { shareCoreWithPlugins } from './same-core.js';

/** Loads a module by package name or file path. Behind an interface so tests can hand in fake modules. */
export interface ModuleImporter {
  import(specifier: string): Promise<unknown>;
  /** Where `specifier` was looked for, in order, for an error message. */
  searched(specifier: string): string[];
}
export const ModuleImporter = Symbol.for('flannel-ts.ModuleImporter');

/** Where plugins are looked for. flanneld binds it from --plugin-dir and the net-conf's origin. */
export interface PluginSearch {
  /** Folders a plugin is installed into with `npm install --prefix DIR <plugin>`, searched in order. */
  dirs: string[];
  /**
   * The folder a relative path in Backend.Type starts from: the net-conf file's. Undefined when the
   * config has no folder (it came from etcd): relative paths are refused then.
   */
  relativeTo?: string | undefined;
  /**
   * Set by flanneld: plugins get its copy of '@flannel-ts/core' (shareCoreWithPlugins, at the first plugin).
   * `bundled` names the bundle's entry files when it runs from its bundle. Unset (tests under Jest, which
   * has module hooks of its own): plugins import what they resolve.
   */
  shareCore?: { bundled?: Record<string, string> | undefined } | undefined;
}
export const PluginSearch = Symbol.for('flannel-ts.PluginSearch');

/** --plugin-dir's default: a packaged plugin's place, then the administrator's. */
export const DEFAULT_PLUGIN_DIRS = ['/usr/lib/flannel/plugins', '/etc/flannel/plugins'];

/** A path as Backend.Type: absolute, or relative. */
export function isPathSpecifier(type: string): boolean {
  return type.startsWith('/') || type.startsWith('./') || type.startsWith('../') || type === '.' || type === '..';
}

/**
 * Node's own `import()`, after the plugin folders: a package name is taken from the first
 * `<dir>/node_modules/<name>` that exists, else from flanneld's own dependencies. A path to a folder is
 * read as a package: its exports "." entry, else main, else index.js.
 */
@injectable()
export class NodeModuleImporter implements ModuleImporter {
  private readonly search: PluginSearch;

  constructor(@inject(PluginSearch) @optional() search?: PluginSearch) {
    this.search = search ?? { dirs: DEFAULT_PLUGIN_DIRS, relativeTo: process.cwd() };
  }

  import(specifier: string): Promise<unknown> {
    // Registered at the first plugin, not at startup: Node runs module hooks on a thread of their own,
    // which costs a node without plugins ~100 ms of its start and the memory of a second V8 instance.
    if (this.search.shareCore) shareCoreWithPlugins(this.search.shareCore.bundled);
    if (isPathSpecifier(specifier)) return import(resolvePathEntry(this.absolute(specifier)));
    const installed = this.search.dirs.map((d) => join(d, 'node_modules', specifier)).find((root) => existsSync(join(root, 'package.json')));
    return import(installed ? resolvePathEntry(installed) : specifier);
  }

  searched(specifier: string): string[] {
    if (isPathSpecifier(specifier)) return [this.search.relativeTo || isAbsolute(specifier) ? this.absolute(specifier) : specifier];
    return [...this.search.dirs.map((d) => join(d, 'node_modules', specifier)), "flanneld's own dependencies"];
  }

  private absolute(specifier: string): string {
    if (isAbsolute(specifier)) return specifier;
    if (!this.search.relativeTo) {
      throw new UserError(
        'Backend.Type',
        `${JSON.stringify(specifier)} is a relative path, but the network config came from etcd and has no folder it could be relative to`,
        'give an absolute path, or install the plugin in a --plugin-dir and name it',
      );
    }
    return resolve(this.search.relativeTo, specifier);
  }
}

function resolvePathEntry(abs: string): string {
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
