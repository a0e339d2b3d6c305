import { inject, injectable, multiInject, optional } from 'inversify';
import {
  BackendDescriptor,
  Clock,
  KernelResyncMs,
  Logger,
  Netlink,
  ReconcilerObserver,
  SubnetManager,
  type Backend,
  type ExternalInterface,
} from '@flannel-ts/core';
import { BackendLoader, BackendLoadError, checkDescriptor } from './backend-loader.js';
import { BackendSource } from './backend-source.js';

/**
 * Turns net-conf's Backend.Type into a running backend. Types registered by a package's ContainerModule,
 * or as a BackendSource (flanneld's built-in backends, imported when asked for), are served from there;
 * any other type is looked up as a plugin package. Either way the descriptor passes the same checks and
 * gets the same context. One backend instance per type; concurrent requests share one construction.
 */
@injectable()
export class BackendRegistry {
  private readonly active = new Map<string, Promise<Backend>>();
  private readonly registered: Map<string, BackendDescriptor>;
  private readonly sources: Map<string, BackendSource>;

  constructor(
    @inject(BackendLoader) private readonly loader: BackendLoader,
    @inject(SubnetManager) private readonly subnetManager: SubnetManager,
    @inject(Logger) private readonly logger: Logger,
    @inject(Clock) private readonly clock: Clock,
    @inject(Netlink) private readonly netlink: Netlink,
    @multiInject(BackendDescriptor) @optional() descriptors: BackendDescriptor[] | undefined,
    @inject(ReconcilerObserver) @optional() private readonly observer?: ReconcilerObserver,
    @inject(KernelResyncMs) @optional() private readonly resyncMs?: number,
    @multiInject(BackendSource) @optional() sources?: BackendSource[],
  ) {
    this.registered = new Map((descriptors ?? []).map((d) => [d.name, d]));
    this.sources = new Map((sources ?? []).map((s) => [s.name, s]));
  }

  /** The backend for `type`, built with `extIface` (chosen at startup, after the network config is known). */
  getBackend(type: string, extIface: ExternalInterface): Promise<Backend> {
    const key = type.trim();
    let backend = this.active.get(key);
    if (!backend) {
      backend = this.build(key, extIface);
      this.active.set(key, backend);
      backend.catch(() => this.active.delete(key));
    }
    return backend;
  }

  private async build(type: string, extIface: ExternalInterface): Promise<Backend> {
    const name = type.toLowerCase();
    const source = this.sources.get(name);
    const registered = this.registered.get(name) ?? (source && (await loadSource(type, source)));
    const { descriptor, specifier } = registered
      ? {
          descriptor: checkDescriptor(type, `@flannel-ts/${name}`, { backend: registered }),
          specifier: `@flannel-ts/${name} (registered)`,
        }
      : await this.loader.load(type);
    const logger = this.logger.child({ backend: descriptor.name });
    logger.info({ type, package: specifier, contractVersion: descriptor.contractVersion }, 'backend loaded');
    return descriptor.create({
      subnetManager: this.subnetManager,
      extIface,
      logger,
      clock: this.clock,
      netlink: this.netlink,
      ...(this.observer ? { observer: this.observer } : {}),
      ...(this.resyncMs ? { resyncMs: this.resyncMs } : {}),
    });
  }
}

/**
 * A registered source's descriptor. A missing file is the installation's fault (or an upgrade under a
 * running flanneld); anything else that fails while it loads is a bug, kept as the error's cause.
 */
async function loadSource(type: string, source: BackendSource): Promise<BackendDescriptor> {
  try {
    return await source.load();
  } catch (err) {
    const code = (err as { code?: string })?.code;
    const missing = code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND';
    const why = (err as Error)?.message ?? String(err);
    const error = missing
      ? new BackendLoadError(
          type,
          `the built-in backend ${source.name} is missing from this installation: ${why}`,
          'reinstall flannel-ts, or restart flanneld if it was upgraded while running',
        )
      : new BackendLoadError(type, `the built-in backend ${source.name} failed to load: ${why}`, 'a bug in flannel-ts: please report it with this message');
    throw Object.assign(error, { cause: err });
  }
}
