import { register } from 'node:module';

let registered = false;

/**
 * Makes plugins loaded from plugin folders share flanneld's copy of @flannel-ts/core (see
 * same-core-hooks.ts). Call once, before the first plugin is imported. When flanneld runs from its
 * bundle, `bundled` maps '@flannel-ts/core', '/netlink', '/ip' and '@flannel-ts/backends' to the
 * bundle's entry files, which hold the one copy the process runs.
 */
export function shareCoreWithPlugins(bundled?: Record<string, string>): void {
  if (registered) return;
  registered = true;
  register(new URL('./same-core-hooks.js', import.meta.url), { data: { bundled } });
}
