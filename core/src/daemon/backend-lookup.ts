import type { Backend } from '../contracts/backend.js';

/**
 * What the daemon needs from the backends package, which it cannot import (backends depend on core):
 * the BackendManager bound under this token by backendsModule.
 */
export interface BackendLookup {
  getBackend(type: string): Promise<Backend>;
}
export const BackendManagerToken = Symbol.for('flannel-ts.BackendManager');
