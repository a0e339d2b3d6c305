import { ContainerModule } from 'inversify';
import { NetlinkHandle } from './handle.js';

/** The DI token for the daemon's one rtnetlink handle. */
export const Netlink = Symbol.for('flannel-ts.Netlink');

/**
 * Binds the host's netlink handle (or one in `netns`, for tests and tools). The socket opens when first
 * injected and closes when the container unbinds it.
 */
export function netlinkModule(opts: { netns?: string } = {}): ContainerModule {
  return new ContainerModule(({ bind }) => {
    bind<NetlinkHandle>(Netlink)
      .toDynamicValue(() => NetlinkHandle.open(opts))
      .inSingletonScope()
      .onDeactivation((h) => h.close());
  });
}
