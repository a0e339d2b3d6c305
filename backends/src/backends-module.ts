import { ContainerModule } from 'inversify';
import { BackendManagerToken } from '@flannel-ts/core';
import { BackendLoader } from './backend-loader.js';
import { BackendManager } from './backend-manager.js';
import { ModuleImporter, NodeModuleImporter } from './module-importer.js';

/** The backend registry: how Backend.Type becomes a running backend. */
export const backendsModule = new ContainerModule(({ bind }) => {
  bind<ModuleImporter>(ModuleImporter).to(NodeModuleImporter);
  bind(BackendLoader).toSelf();
  bind(BackendManager).toSelf();
  bind(BackendManagerToken).toService(BackendManager);
});
