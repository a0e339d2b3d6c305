import { existsSync } from 'node:fs';
import { inject, injectable, optional } from 'inversify';
import {
  Clock,
  isUserError,
  LeaseRevokedError,
  Logger,
  Netlink,
  retryWithBackoff,
  SubnetManager,
  UserError,
  type Lease,
  type Network,
  type NetworkConfig,
} from '@flannel-ts/core';
import { CommandRunner, PreviousRun, StoredPublicIPReader, TrafficManager, writeSubnetFile, type FamilyNets } from '@flannel-ts/core/internal';
import { BackendRegistry } from '@flannel-ts/backends';
import { DaemonState } from './daemon-state.js';
import { HealthServer } from './healthz.js';
import { DaemonMetrics } from './metrics.js';
import { FlanneldOptions } from './options.js';
import { NetAdminCheck } from './privileges.js';
import { checkIfacesExist, selectExternalInterface } from './select-interface.js';
import { monitorStore, OutageTracker } from './store-monitor.js';

/** 0 after a clean shutdown; 1 on any failure, including a revoked lease (Go exits 0 there) and a backend that stopped. */
export type ExitCode = 0 | 1;

/**
 * flanneld's startup sequence, as Go flanneld runs it: health server, network config (retried until
 * there is one), br_netfilter check, external interface, backend, lease, traffic rules, then the backend
 * runs, subnet.env is written and the node is ready; the lease is held until we are stopped.
 */
@injectable()
export class Flanneld {
  constructor(
    @inject(FlanneldOptions) private readonly opts: FlanneldOptions,
    @inject(Logger) private readonly logger: Logger,
    @inject(Clock) private readonly clock: Clock,
    @inject(Netlink) private readonly netlink: Netlink,
    @inject(SubnetManager) private readonly manager: SubnetManager,
    @inject(PreviousRun) private readonly previous: PreviousRun,
    @inject(BackendRegistry) private readonly backends: BackendRegistry,
    @inject(CommandRunner) private readonly runner: CommandRunner,
    @inject(HealthServer) private readonly health: HealthServer,
    @inject(DaemonMetrics) private readonly metrics: DaemonMetrics,
    @inject(DaemonState) private readonly state: DaemonState,
    @inject(OutageTracker) private readonly outages: OutageTracker,
    @inject(NetAdminCheck) private readonly netAdminCheck: () => void,
    @inject(StoredPublicIPReader) @optional() private readonly storedPublicIP?: StoredPublicIPReader,
  ) {}

  /** What startup is doing now (named by /readyz, and in the error when flanneld stalls). */
  get stage(): string {
    return this.state.stage;
  }

  async run(signal: AbortSignal): Promise<ExitCode> {
    const { opts, logger, state } = this;
    state.subnetEnv.path = opts.subnetFile;
    // A start is work: its stalls (reading thousands of leases) are sampled finely, as lease events and passes are.
    this.metrics.loopDelay.busy();
    this.netAdminCheck();
    logger.info({ subnetManager: this.manager.name }, 'subnet manager created');
    try {
      if (opts.healthzPort > 0) await this.health.listen(opts.healthzIP, opts.healthzPort);
      state.stage = 'checking --iface';
      await checkIfacesExist(this.netlink, {
        ifaces: opts.ifaces,
        ifaceRegexes: opts.ifaceRegexes,
        ...(opts.ifaceCanReach ? { ifaceCanReach: opts.ifaceCanReach } : {}),
      });
      state.stage = 'waiting for the network config';
      const config = await this.waitForConfig(signal);
      if (!config) return 0;
      logger.info(
        { network: config.network?.toString(), ipv6Network: config.ipv6Network?.toString(), subnetLen: config.subnetLen, backend: config.backendType },
        'network config',
      );

      if (!config.enableNFTables) checkBrNetfilter(config);
      state.stage = 'choosing the external interface';
      // Kube mode: the node-public-ip annotations override --public-ip/--public-ipv6, as in Go.
      const stored = (await this.storedPublicIP?.(signal)) ?? {};
      const publicIP = stored.publicIP ?? opts.publicIP;
      const publicIPv6 = stored.publicIPv6 ?? opts.publicIPv6;
      const { extIface, reason } = await selectExternalInterface(this.netlink, {
        ifaces: opts.ifaces,
        ifaceRegexes: opts.ifaceRegexes,
        ...(opts.ifaceCanReach ? { ifaceCanReach: opts.ifaceCanReach } : {}),
        ...(publicIP ? { publicIP } : {}),
        ...(publicIPv6 ? { publicIPv6 } : {}),
        ipv4: config.enableIPv4,
        ipv6: config.enableIPv6,
      });
      logger.info(
        {
          iface: extIface.iface.name,
          mtu: extIface.iface.mtu,
          ifaceAddr: extIface.ifaceAddr?.toString(),
          publicIP: extIface.extAddr?.toString(),
          publicIPv6: extIface.extV6Addr?.toString(),
          reason,
        },
        'using interface',
      );

      state.extIface = extIface;
      state.backendType = config.backendType;
      this.metrics.buildInfo.set({ version: state.version, backend: config.backendType }, 1);
      logger.info({ type: config.backendType }, 'loading backend; acquiring a lease');
      state.stage = `loading the ${config.backendType} backend`;
      const backend = await this.backends.getBackend(config.backendType, extIface);
      state.stage = `the ${config.backendType} backend's registerNetwork (it acquires the lease)`;
      const network = await backend.registerNetwork(config, signal);
      state.stage = 'installing traffic rules';
      this.trackLease(network.lease);
      logger.info(
        {
          subnet: network.lease.subnet?.toString(),
          ipv6Subnet: network.lease.ipv6Subnet?.toString(),
          expiration: network.lease.expiration?.toISOString() ?? 'never (reservation)',
        },
        'lease acquired',
      );
      state.network = network;
      this.metrics.watchNetwork(
        () => network.stats?.(),
        () => network.peerTraffic?.(),
      );

      const traffic = new TrafficManager(this.runner, logger, this.clock, {
        nftables: config.enableNFTables,
        ipMasq: opts.ipMasq,
        fullyRandomDisable: opts.ipMasqFullyRandomDisable,
        forwardRules: opts.iptablesForwardRules,
        resyncSeconds: opts.iptablesResyncSeconds,
        changes: this.netlink.monitor(['nftables']),
        onResync: ({ repaired, error }) => this.rulesResynced(repaired, error),
      });
      // The rules and the peers' routes do not depend on each other: the backend starts programming peers
      // while iptables runs (~20 ms of child processes at a start). The rest waits for the rules, as in Go.
      const rules = traffic.setup(familyNets(config, network.lease), this.previous.subnetEnv);
      return await this.runNetwork(config, network, traffic, rules, signal);
    } catch (err) {
      if (signal.aborted && !isUserError(err)) {
        logger.debug({ err: (err as Error)?.message ?? String(err) }, 'failed while stopping');
        return 0;
      }
      throw err;
    } finally {
      await this.health.close();
    }
  }

  private async runNetwork(config: NetworkConfig, network: Network, traffic: TrafficManager, rules: Promise<void>, signal: AbortSignal): Promise<ExitCode> {
    const { logger } = this;
    const stop = new AbortController();
    const onAbort = () => stop.abort();
    signal.addEventListener('abort', onAbort, { once: true });
    // A signal that came while the backend registered (not every step of it can be interrupted) fires no event.
    if (signal.aborted) stop.abort();
    let code: ExitCode = 0;
    // A backend that fails, or returns while we still run, leaves nothing programmed: that is a failure,
    // and /readyz says so at once (before anything else shuts down).
    const stopped = (why: string) => {
      this.state.backendStopped = why;
      this.state.changed();
      code = 1;
    };
    const backendDone = Promise.resolve()
      .then(() => network.run(stop.signal))
      .then(
        () => {
          if (stop.signal.aborted) return;
          logger.error({ backend: config.backendType }, `the ${config.backendType} backend stopped on its own; exiting`);
          stopped(`the ${config.backendType} backend stopped on its own`);
        },
        (err: Error) => {
          logger.error({ backend: config.backendType, err: err?.message ?? String(err) }, `the ${config.backendType} backend failed; exiting`);
          stopped(`the ${config.backendType} backend failed: ${err?.message ?? String(err)}`);
        },
      );
    void backendDone.then(() => stop.abort());
    // Completing the lease (in kube mode: marking the Node's network available), the rules' upkeep and
    // subnet.env wait for the rules. Rules that cannot be installed fail the daemon: the backend stops, and
    // run() throws their error.
    let rulesFailed: { err: unknown } | undefined;
    const rulesInstalled = rules.then(
      () => {
        if (stop.signal.aborted) return false;
        this.state.rules = { mode: traffic.mode, chains: traffic.chains, inPlace: true };
        this.state.stage = 'running';
        this.state.changed();
        return true;
      },
      (err: unknown) => {
        rulesFailed = { err };
        stop.abort();
        return false;
      },
    );
    const afterRules = rulesInstalled.then(async (installed) => {
      if (installed) await Promise.all([traffic.resync(stop.signal), this.writeSubnetEnv(config, network, stop.signal)]);
    });
    const running = Promise.all([backendDone, afterRules, monitorStore(this.manager, this.clock, stop.signal)]);
    // Awaited in `finally`, after the lease's whole life: a rejection meanwhile must not count as unhandled.
    running.catch(() => undefined);
    try {
      if (await rulesInstalled) await this.manager.completeLease(network.lease, stop.signal);
    } catch (err) {
      if (!(err instanceof LeaseRevokedError)) throw err;
      code = 1;
    } finally {
      stop.abort();
      signal.removeEventListener('abort', onAbort);
      await running;
    }
    if (rulesFailed) throw rulesFailed.err;
    logger.info({ code }, code === 0 ? 'Exiting cleanly...' : 'exiting with an error');
    return code;
  }

  /**
   * Writes subnet.env, retrying with backoff until it works (a full or read-only disk may recover); the
   * node is ready only then, and until then /readyz says what is wrong.
   */
  private async writeSubnetEnv(config: NetworkConfig, network: Network, signal: AbortSignal): Promise<void> {
    const { opts, logger } = this;
    const env = {
      ...(config.enableIPv4 && config.network ? { network: config.network, subnet: network.lease.subnet! } : {}),
      ...(config.enableIPv6 && config.ipv6Network ? { ipv6Network: config.ipv6Network, ipv6Subnet: network.lease.ipv6Subnet! } : {}),
      mtu: network.mtu,
      ipMasq: opts.ipMasq,
    };
    const written = await retryWithBackoff(() => writeSubnetFile(opts.subnetFile, env).then(() => true), signal, {
      clock: this.clock,
      initialMs: 1000,
      maxMs: 30_000,
      onError: (err, retryInMs) => {
        this.state.subnetEnv.error = (err as Error).message;
        this.state.changed();
        logger.error({ file: opts.subnetFile, err: (err as Error).message, retryInMs }, 'cannot write the subnet file; retrying');
      },
    });
    if (!written || signal.aborted) return;
    this.state.subnetEnv = { path: opts.subnetFile, written: true };
    logger.info({ file: opts.subnetFile, mtu: network.mtu }, 'wrote subnet file');
    this.state.changed();
  }

  /** The lease in status and metrics; a renewal (our key written again) moves its expiry on by the same TTL. */
  private trackLease(lease: Lease): void {
    const ttlMs = lease.expiration ? lease.expiration.getTime() - this.clock.now().getTime() : undefined;
    const show = (l: Lease) => {
      this.state.lease = l;
      if (l.expiration) this.metrics.leaseExpiry.set(l.expiration.getTime() / 1000);
    };
    show(lease);
    this.state.ownLeaseWritten = (expiration) => {
      const current = this.state.lease ?? lease;
      const next = expiration ?? (ttlMs !== undefined ? new Date(this.clock.now().getTime() + ttlMs) : undefined);
      show({ ...current, ...(next ? { expiration: next } : {}) });
    };
  }

  private rulesResynced(repaired: number, error: string | undefined): void {
    this.metrics.rulesResyncsTotal.inc({ result: error ? 'failed' : 'ok' });
    if (repaired > 0) this.metrics.rulesRepairsTotal.inc(repaired);
    const rules = this.state.rules;
    if (!rules) return;
    const wasInPlace = rules.inPlace;
    rules.inPlace = !error;
    rules.lastResync = this.clock.now().toISOString();
    if (error) rules.lastError = error;
    else delete rules.lastError;
    if (wasInPlace !== rules.inPlace) this.state.changed();
  }

  /** Asks for the network config every second until there is one (or we are stopped). */
  private async waitForConfig(signal: AbortSignal): Promise<NetworkConfig | undefined> {
    return retryWithBackoff((s) => this.manager.getNetworkConfig(AbortSignal.any([s, AbortSignal.timeout(5000)])), signal, {
      clock: this.clock,
      initialMs: 1000,
      maxMs: 1000,
      onError: (err) => {
        // An unreachable store was reported once by the outage tracker; a missing or bad config is said every time.
        if (this.outages.isDown && !isUserError(err)) this.logger.debug({ err: (err as Error).message }, 'waiting for the network config; retrying in 1 s');
        else this.logger.error({ err: (err as Error).message }, 'waiting for the network config; retrying in 1 s');
      },
    });
  }
}

/** iptables mode needs br_netfilter, or bridged pod traffic bypasses the rules. */
function checkBrNetfilter(config: NetworkConfig): void {
  const files = [...(config.enableIPv4 ? ['iptables'] : []), ...(config.enableIPv6 ? ['ip6tables'] : [])].map(
    (t) => `/proc/sys/net/bridge/bridge-nf-call-${t}`,
  );
  for (const f of files) {
    if (!existsSync(f)) {
      throw new UserError(
        'br_netfilter',
        `Failed to check br_netfilter: ${f} does not exist`,
        'load the br_netfilter kernel module (modprobe br_netfilter), or set EnableNFTables in net-conf',
      );
    }
  }
}

/** The networks the traffic rules cover: each enabled family's cluster network and our subnet in it. */
function familyNets(config: NetworkConfig, lease: Lease): FamilyNets[] {
  const nets: FamilyNets[] = [];
  if (config.enableIPv4 && config.network && lease.subnet) nets.push({ family: 4, network: config.network, podSubnet: lease.subnet });
  if (config.enableIPv6 && config.ipv6Network && lease.ipv6Subnet) nets.push({ family: 6, network: config.ipv6Network, podSubnet: lease.ipv6Subnet });
  return nets;
}
