import { ContainerModule } from 'inversify';
import type { Level } from 'pino';
import { Clock } from '../contracts/clock.js';
import { Logger } from '../contracts/logger.js';
import { Netlink } from '../contracts/netlink.js';
import { createLogger } from '../log/logger.js';
import { NetlinkHandle } from '../netlink/handle.js';
import { systemClock } from '../util/system-clock.js';

export interface CoreModuleOptions {
  logLevel?: Level;
  /** A logger to use instead of a new pino one (tests). */
  logger?: Logger;
  clock?: Clock;
  /** Open netlink in this namespace instead of our own (tools and tests). */
  netns?: string;
}

/**
 * What every part of flanneld shares: the logger, the clock and the netlink socket. The socket opens when
 * first needed (a `--version` or a unit test never opens one) and closes when the container is unbound.
 */
export function coreModule(opts: CoreModuleOptions = {}): ContainerModule {
  return new ContainerModule(({ bind }) => {
    bind<Logger>(Logger).toConstantValue(opts.logger ?? createLogger(opts.logLevel));
    bind<Clock>(Clock).toConstantValue(opts.clock ?? systemClock);
    bind<Netlink>(Netlink)
      .toDynamicValue(() => NetlinkHandle.open(opts.netns ? { netns: opts.netns } : {}))
      .inSingletonScope()
      .onDeactivation((nl) => (nl as NetlinkHandle).close());
  });
}
