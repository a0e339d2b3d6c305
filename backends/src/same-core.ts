import { register } from 'node:module';

let registered = false;

/**
 * Makes plugins loaded from plugin folders share flanneld's copy of @flannel-ts/core (see
 * same-core-hooks.ts). Call once, before the first plugin is imported.
 */
export function shareCoreWithPlugins(): void {
  if (registered) return;
  registered = true;
  register(new URL('./same-core-hooks.js', import.meta.url));
}
