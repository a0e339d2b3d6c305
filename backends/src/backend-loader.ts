import { inject, injectable } from 'inversify';
import { BACKEND_CONTRACT_VERSION, contractMismatch, UserError, type BackendDescriptor } from '@flannel-ts/core';
import { BUILTIN_BACKENDS, isBuiltinBackend, nearestBuiltin, NOT_YET_BACKENDS } from './builtin.js';
import { isPathSpecifier, ModuleImporter } from './module-importer.js';

const PLUGIN_PACKAGE = 'flannel-backend';
const PLUGIN_PREFIX = `${PLUGIN_PACKAGE}-`;

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
 * Turns net-conf's Backend.Type into a backend descriptor: a package is imported and its exported
 * descriptor is checked. The built-in backends are normally registered, as BackendSources, by flanneld's
 * composition root (see BackendRegistry); they load through here too when asked by package.
 */
@injectable()
export class BackendLoader {
  constructor(@inject(ModuleImporter) private readonly importer: ModuleImporter) {}

  /**
   * The package for a Backend.Type, as ESLint finds its plugins:
   *  - a built-in type → `@flannel-ts/<type>`;
   *  - a path (`/…`, `./…`, `../…`) → that path;
   *  - `@scope` → `@scope/flannel-backend`; `@scope/name` → `@scope/flannel-backend-name`;
   *  - `name` → `flannel-backend-name`.
   * A name that already starts with `flannel-backend` is taken as it is. There is no fallback to the
   * bare name: `Backend.Type: "left-pad"` must not import an unrelated package as root.
   * Names are matched in lower case, as Go flannel does; paths are taken as written.
   */
  candidate(type: string): string {
    const t = type.trim();
    if (isPathSpecifier(t)) return t;
    const name = t.toLowerCase();
    if (isBuiltinBackend(name)) return `@flannel-ts/${name}`;
    if (/^@[^/]+$/.test(name)) return `${name}/${PLUGIN_PACKAGE}`;
    const scoped = /^(@[^/]+)\/(.+)$/.exec(name);
    const [scope, bare] = scoped ? [`${scoped[1]}/`, scoped[2]!] : ['', name];
    return bare === PLUGIN_PACKAGE || bare.startsWith(PLUGIN_PREFIX) ? name : `${scope}${PLUGIN_PREFIX}${bare}`;
  }

  async load(type: string): Promise<LoadedBackend> {
    if (type.trim() === '') {
      throw new BackendLoadError(type, 'empty', `set Backend.Type to one of ${BUILTIN_BACKENDS.join(', ')}, or a plugin package`);
    }
    const lower = type.trim().toLowerCase();
    if ((NOT_YET_BACKENDS as readonly string[]).includes(lower)) {
      throw new BackendLoadError(
        type,
        `Go flannel's ${lower} backend is not available in flannel-ts yet`,
        `use one of ${BUILTIN_BACKENDS.join(', ')} (vxlan works across subnets; host-gw needs the nodes on one L2 segment)`,
      );
    }
    const specifier = this.candidate(type);
    let mod: unknown;
    try {
      mod = await this.importer.import(specifier);
    } catch (err) {
      if (err instanceof UserError) throw new BackendLoadError(type, err.problem, err.hint ?? 'check the path');
      if (!isModuleNotFound(err, specifier)) {
        throw new BackendLoadError(type, `plugin ${specifier} failed to load: ${(err as Error).message}`, `reinstall ${specifier}, or check that it is built`);
      }
      const near = isPathSpecifier(specifier) ? undefined : nearestBuiltin(lower);
      throw new BackendLoadError(
        type,
        isBuiltinBackend(lower)
          ? `the built-in backend's package ${specifier} is missing from this installation`
          : near
            ? `unknown backend type; did you mean ${near}?`
            : `unknown backend type; no package ${specifier} found (looked in ${this.importer.searched(specifier).join(', ')})`,
        isPathSpecifier(specifier)
          ? 'check that the path exists'
          : isBuiltinBackend(lower)
            ? `${specifier} ships with flannel-ts: reinstall flannel-ts`
            : near
              ? `set Backend.Type to "${near}", or another built-in type (${BUILTIN_BACKENDS.join(', ')})`
              : `use a built-in type (${BUILTIN_BACKENDS.join(', ')}) or install the plugin where flanneld looks: npm install --prefix /usr/lib/flannel/plugins ${specifier}`,
      );
    }
    return { descriptor: checkDescriptor(type, specifier, mod), specifier };
  }
}

/** The descriptor a module exports (`backend`, else default), checked for shape and contract version. */
export function checkDescriptor(type: string, specifier: string, mod: unknown): BackendDescriptor {
  const exports = (mod ?? {}) as Record<string, unknown>;
  const candidate = exports.backend ?? exports.default;
  const problem = descriptorProblem(candidate);
  if (problem) {
    throw new BackendLoadError(
      type,
      `plugin ${specifier} exports no backend descriptor: ${problem}`,
      'a backend plugin exports `backend` (or a default export) of the form { name, contractVersion, create }; see docs/writing-a-backend.md',
    );
  }
  const d = candidate as BackendDescriptor;
  const mismatch = contractMismatch(d.contractVersion);
  if (mismatch)
    throw new BackendLoadError(type, `plugin ${specifier}: ${mismatch}`, `install a version of ${specifier} built for contract v${BACKEND_CONTRACT_VERSION}`);
  return d;
}

/** What is wrong with a would-be descriptor, naming the field; undefined when nothing is. */
function descriptorProblem(x: unknown): string | undefined {
  if (typeof x !== 'object' || x === null)
    return x === undefined ? 'it has neither a `backend` nor a default export' : `its export is a ${typeof x}, not an object`;
  const d = x as Record<string, unknown>;
  if (typeof d.name !== 'string' || d.name === '') return "'name' is not a non-empty string";
  if (typeof d.contractVersion !== 'string' && typeof d.contractVersion !== 'number') return "'contractVersion' is missing";
  if (typeof d.create !== 'function') return "'create' is not a function";
  if (d.cleanup !== undefined && typeof d.cleanup !== 'function') return "'cleanup' is not a function";
  return undefined;
}

/** True only when the module itself is missing, not one of its own imports. */
function isModuleNotFound(err: unknown, specifier: string): boolean {
  const e = err as { code?: string; message?: string };
  const notFound = e?.code === 'ERR_MODULE_NOT_FOUND' || e?.code === 'MODULE_NOT_FOUND' || /^Cannot find (module|package)/.test(e?.message ?? '');
  return notFound && (e.message ?? '').includes(`'${specifier}`);
}
