/** @flannel-ts/backends public API: the registry, the plugin loader and shared backend building blocks. */
import 'reflect-metadata';

export { BackendLoader, BackendLoadError, type LoadedBackend } from './backend-loader.js';
export { BackendManager } from './backend-manager.js';
export { backendsModule } from './backends-module.js';
export { BUILTIN_BACKENDS, isBuiltinBackend } from './builtin.js';
export { isPathSpecifier, ModuleImporter, NodeModuleImporter } from './module-importer.js';
export { ROUTE_RESYNC_MS, RouteNetwork, type RouteDecision, type RouteNetworkOptions } from './route-network/route-network.js';
export { routeReconcileOps, sameRoute, type PeerRoute } from './route-network/route-diff.js';
