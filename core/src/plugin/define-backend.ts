import { ContainerModule } from 'inversify';
import { BackendDescriptor } from '../contracts/backend-plugin.js';

/** Gives a descriptor its type in a plugin's source; it does nothing at run time. */
export function defineBackend(descriptor: BackendDescriptor): BackendDescriptor {
  return descriptor;
}

/**
 * A backend package's ContainerModule: registers its descriptor with the backend registry, so that a
 * composition root that loads the module serves the backend's type without a package lookup.
 */
export function backendModule(descriptor: BackendDescriptor): ContainerModule {
  return new ContainerModule(({ bind }) => {
    bind<BackendDescriptor>(BackendDescriptor).toConstantValue(descriptor);
  });
}
