// Module resolution hooks (registered with node:module's register, so they run on the loader thread).
// A plugin installed in a plugin folder imports '@flannel-ts/core' like any package; resolved from the
// plugin's own folder that would find nothing (installed with --omit=peer) or a second copy of core,
// with its own classes and checks. Every '@flannel-ts/core…' and '@flannel-ts/backends' import is
// resolved to flanneld's own copy instead, so the whole process has one core: either the entry files of
// flanneld's bundle (given by `initialize`), or the packages as found from here.

interface ResolveContext {
  parentURL?: string | undefined;
  conditions: string[];
  importAttributes: Record<string, string>;
}
type NextResolve = (specifier: string, context: ResolveContext) => Promise<unknown>;

const OURS = /^@flannel-ts\/(core|backends)(\/|$)/;
let bundled: Record<string, string> = {};

/** `data`: specifier → file URL, when flanneld runs from its bundle. */
export function initialize(data?: { bundled?: Record<string, string> }): void {
  bundled = data?.bundled ?? {};
}

export async function resolve(specifier: string, context: ResolveContext, next: NextResolve): Promise<unknown> {
  const url = bundled[specifier];
  if (url) return { url, shortCircuit: true, format: 'module' };
  if (OURS.test(specifier)) return next(specifier, { ...context, parentURL: import.meta.url });
  return next(specifier, context);
}
