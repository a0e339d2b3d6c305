import type { BackendDescriptor } from '@flannel-ts/core';

/**
 * A backend known by name whose code is imported only when a node asks for it. flanneld registers its
 * built-in backends this way: a start evaluates the one backend net-conf names, not all of them with
 * their dependencies (measured: npm run bench -- convergence).
 */
export interface BackendSource {
  readonly name: string;
  load(): Promise<BackendDescriptor>;
}
export const BackendSource = Symbol.for('flannel-ts.BackendSource');
