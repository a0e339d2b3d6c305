import 'reflect-metadata';
import { Container, ContainerModule } from 'inversify';
import type { Level } from 'pino';
import { Clock, systemClock } from '../contracts/clock.js';
import { Logger } from '../contracts/logger.js';
import { createLogger } from '../log/logger.js';

export interface CoreModuleOptions {
  logLevel?: Level;
  /** A logger to use instead of a new pino one (tests). */
  logger?: Logger;
  clock?: Clock;
}

/** Services every part of flanneld shares: the logger and the clock. */
export function coreModule(opts: CoreModuleOptions = {}): ContainerModule {
  return new ContainerModule(({ bind }) => {
    bind<Logger>(Logger).toConstantValue(opts.logger ?? createLogger(opts.logLevel));
    bind<Clock>(Clock).toConstantValue(opts.clock ?? systemClock);
  });
}

/**
 * The composition root's container. Services are singletons: one subnet manager, one netlink handle,
 * one backend manager per daemon.
 */
export function createContainer(...modules: ContainerModule[]): Container {
  const container = new Container({ defaultScope: 'Singleton' });
  container.load(...modules);
  return container;
}
