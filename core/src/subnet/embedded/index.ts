/** @flannel-ts/core/internal/embedded: the embedded (single-host, file-backed) lease store. */
export { EmbeddedRegistry } from './embedded-registry.js';
