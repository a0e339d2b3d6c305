/** @flannel-ts/backends: the backend registry and plugin loader, and shared backend building blocks. */
import 'reflect-metadata';

export { BackendLoader, BackendLoadError, checkDescriptor, type LoadedBackend } from './backend-loader.js';
export { BackendRegistry } from './backend-registry.js';
export { BackendSource } from './backend-source.js';
export { backendsModule } from './backends-module.js';
export { BUILTIN_BACKENDS, isBuiltinBackend } from './builtin.js';
export { DEFAULT_PLUGIN_DIRS, isPathSpecifier, ModuleImporter, NodeModuleImporter, PluginSearch } from './module-importer.js';
export { RouteDataplane, type PeerRoute, type RouteDataplaneOptions, type RouteDecision } from './route-network/route-dataplane.js';
export { shareCoreWithPlugins } from './same-core.js';
