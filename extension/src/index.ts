import { backendModule, BACKEND_CONTRACT_VERSION, defineBackend } from '@flannel-ts/core';
import { ExtensionBackend } from './extension-backend.js';

export { commandArgv, expandVars, runCommand, type CommandResult, type RunOptions } from './command.js';
export { DEFAULT_COMMAND_TIMEOUT_S, parseExtensionConfig, type ExtensionConfig } from './config.js';
export { ExtensionBackend } from './extension-backend.js';

/** The extension backend: Go flannel's, the operator's commands run for startup and for each peer. */
export const backend = defineBackend({
  name: 'extension',
  contractVersion: BACKEND_CONTRACT_VERSION,
  create: (ctx) => new ExtensionBackend(ctx),
});

/** Registers this backend with flanneld's backend registry. */
export const containerModule = backendModule(backend);
