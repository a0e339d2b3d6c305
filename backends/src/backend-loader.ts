import { inject, injectable } from 'inversify';
import { BACKEND_CONTRACT_VERSION, UserError, type BackendDescriptor } from '@flannel-ts/core';
import { BUILTIN_BACKENDS, isBuiltinBackend } from './builtin.js';
import { isPathSpecifier, ModuleImporter } from './module-importer.js';

const PLUGIN_PREFIX = 'flannel-backend-';

export interface LoadedBackend {
  descriptor: BackendDescriptor;
  /** The package name or path it was loaded from. */
  specifier: string;
}

/** A Backend.Type that cannot be turned into a working backend; says why and what to do. */
export class BackendLoadError extends UserError {
  constructor(type: string, problem: string, hint: string) {
    super('Backend.Type', `${JSON.stringify(type)}: ${problem}`, hint);
  }
}

/**
 * Turns net-conf's Backend.Type into a backend descriptor. Built-in types and third-party plugins take
 * the same path: a package is imported and its exported descriptor is checked.
 */
@injectable()
export class BackendLoader {
  constructor(@inject(ModuleImporter) private readonly importer: ModuleImporter) {}

  /**
   * Where to look, in order:
   *  - a built-in type → `@flannel-ts/<type>`;
   *  - a path (`/…`, `./…`, `../…`) → that path;
   *  - `@scope/name` → `@scope/flannel-backend-name`, then `@scope/name`;
   *  - `name` → `flannel-backend-name`, then `name` as a package.
   * Names are matched in lower case, as Go flannel does; paths are taken as written.
   */
  candidates(type: string): string[] {
    const t = type.trim();
    if (isPathSpecifier(t)) return [t];
    const name = t.toLowerCase();
    if (isBuiltinBackend(name)) return [`@flannel-ts/${name}`];
    const scoped = /^(@[^/]+)\/(.+)$/.exec(name);
    const [scope, bare] = scoped ? [`${scoped[1]}/`, scoped[2]!] : ['', name];
    if (bare.startsWith(PLUGIN_PREFIX)) return [name];
    return [`${scope}${PLUGIN_PREFIX}${bare}`, name];
  }

  async load(type: string): Promise<LoadedBackend> {
    if (type.trim() === '') {
      throw new BackendLoadError(type, 'empty', `set Backend.Type to one of ${BUILTIN_BACKENDS.join(', ')}, or a plugin package`);
    }
    const tried: string[] = [];
    for (const specifier of this.candidates(type)) {
      let mod: unknown;
      try {
        mod = await this.importer.import(specifier);
      } catch (err) {
        if (isModuleNotFound(err, specifier)) {
          tried.push(specifier);
          continue;
        }
        throw new BackendLoadError(type, `package ${specifier} failed to load: ${(err as Error).message}`, `reinstall ${specifier}, or check that it is built`);
      }
      return { descriptor: checkDescriptor(type, specifier, mod), specifier };
    }
    const install = tried.filter((s) => !isPathSpecifier(s))[0];
    throw new BackendLoadError(
      type,
      `unknown backend type; no package found (tried ${tried.join(', ')})`,
      install ? `use a built-in type (${BUILTIN_BACKENDS.join(', ')}) or install the plugin: npm install ${install}` : 'check that the path exists',
    );
  }
}

/** The descriptor a module exports (`backend`, else default), checked for shape and contract version. */
export function checkDescriptor(type: string, specifier: string, mod: unknown): BackendDescriptor {
  const exports = (mod ?? {}) as Record<string, unknown>;
  const candidate = exports.backend ?? exports.default;
  if (!isDescriptorShape(candidate)) {
    throw new BackendLoadError(
      type,
      `package ${specifier} exports no backend descriptor`,
      'a backend plugin must export `backend` (or a default export) of the form { name, contractVersion, create }',
    );
  }
  if (candidate.contractVersion !== BACKEND_CONTRACT_VERSION) {
    throw new BackendLoadError(
      type,
      `package ${specifier} implements backend contract v${candidate.contractVersion}, but this flanneld implements v${BACKEND_CONTRACT_VERSION}`,
      `install a version of ${specifier} built for contract v${BACKEND_CONTRACT_VERSION}`,
    );
  }
  return candidate;
}

function isDescriptorShape(x: unknown): x is BackendDescriptor {
  if (typeof x !== 'object' || x === null) return false;
  const d = x as Record<string, unknown>;
  return typeof d.name === 'string' && typeof d.contractVersion === 'number' && typeof d.create === 'function';
}

/** True only when the module itself is missing, not one of its own imports. */
function isModuleNotFound(err: unknown, specifier: string): boolean {
  const e = err as { code?: string; message?: string };
  const notFound = e?.code === 'ERR_MODULE_NOT_FOUND' || e?.code === 'MODULE_NOT_FOUND' || /^Cannot find (module|package)/.test(e?.message ?? '');
  return notFound && (e.message ?? '').includes(`'${specifier}`);
}
