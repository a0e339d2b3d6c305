// Module resolution hooks (registered with node:module's register, so they run on the loader thread).
// A plugin installed in a plugin folder imports '@flannel-ts/core' like any package; resolved from the
// plugin's own folder that would find nothing (installed with --omit=peer) or a second copy of core,
// with its own classes and checks. Resolving every '@flannel-ts/*' import from here instead gives the
// whole process one core: the one flanneld was installed with.

interface ResolveContext {
  parentURL?: string | undefined;
  conditions: string[];
  importAttributes: Record<string, string>;
}
type NextResolve = (specifier: string, context: ResolveContext) => Promise<unknown>;

const OURS = /^@flannel-ts\/(core|backends)(\/|$)/;

export async function resolve(specifier: string, context: ResolveContext, next: NextResolve): Promise<unknown> {
  if (OURS.test(specifier)) return next(specifier, { ...context, parentURL: import.meta.url });
  return next(specifier, context);
}
