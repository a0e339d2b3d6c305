import { ContainerModule } from 'inversify';
import { BackendLoader } from './backend-loader.js';
import { BackendRegistry } from './backend-registry.js';
import { ModuleImporter, NodeModuleImporter } from './module-importer.js';

/** The backend registry: how Backend.Type becomes a running backend. */
export const backendsModule = new ContainerModule(({ bind }) => {
  bind<ModuleImporter>(ModuleImporter).to(NodeModuleImporter);
  bind(BackendLoader).toSelf();
  bind(BackendRegistry).toSelf();
});
