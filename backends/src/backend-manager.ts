import { inject, injectable } from 'inversify';
import { Clock, ExternalInterface, Logger, SubnetManager, type Backend } from '@flannel-ts/core';
import { Netlink, type NetlinkHandle } from '@flannel-ts/core/netlink';
import { BackendLoader } from './backend-loader.js';

/**
 * Hands out one backend instance per type, built from the loaded descriptor with the daemon's shared
 * services. Concurrent requests for a type share one construction.
 */
@injectable()
export class BackendManager {
  private readonly active = new Map<string, Promise<Backend>>();

  constructor(
    @inject(BackendLoader) private readonly loader: BackendLoader,
    @inject(SubnetManager) private readonly subnetManager: SubnetManager,
    @inject(ExternalInterface) private readonly extIface: ExternalInterface,
    @inject(Logger) private readonly logger: Logger,
    @inject(Clock) private readonly clock: Clock,
    @inject(Netlink) private readonly netlink: NetlinkHandle,
  ) {}

  getBackend(type: string): Promise<Backend> {
    const key = type.trim();
    let backend = this.active.get(key);
    if (!backend) {
      backend = this.build(key);
      this.active.set(key, backend);
      backend.catch(() => this.active.delete(key));
    }
    return backend;
  }

  private async build(type: string): Promise<Backend> {
    const { descriptor, specifier } = await this.loader.load(type);
    const logger = this.logger.child({ backend: descriptor.name });
    logger.info({ type, package: specifier, contractVersion: descriptor.contractVersion }, 'backend loaded');
    return descriptor.create({ subnetManager: this.subnetManager, extIface: this.extIface, logger, clock: this.clock, netlink: this.netlink });
  }
}
