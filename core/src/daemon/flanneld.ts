import { ContainerModule } from 'inversify';
import { BackendManagerToken, type BackendLookup } from './backend-lookup.js';
import { systemClock } from '../contracts/clock.js';
import { ExternalInterface } from '../contracts/external-interface.js';
import type { Logger } from '../contracts/logger.js';
import type { Network } from '../contracts/network.js';
import type { NetworkConfig } from '../contracts/network-config.js';
import { LeaseRevokedError, SubnetManager } from '../contracts/subnet-manager.js';
import { coreModule, createContainer } from '../di/core-module.js';
import { existsSync } from 'node:fs';
import { isUserError, UserError } from '../errors/user-error.js';
import type { NetlinkHandle } from '../netlink/handle.js';
import { Netlink } from '../netlink/netlink-module.js';
import { readSubnetFile, writeSubnetFile } from '../subnet-file/subnet-env.js';
import type { StoreSubnetManager } from '../subnet/store-subnet-manager.js';
import { sleep } from '../util/backoff.js';
import { execRunner, type CommandRunner } from '../rules/command-runner.js';
import type { FamilyNets } from '../rules/rule-sets.js';
import { TrafficManager } from '../rules/traffic-manager.js';
import type { Lease } from '../contracts/lease.js';
import { HealthServer } from './healthz.js';
import { DaemonMetrics } from './metrics.js';
import type { FlanneldOptions } from './options.js';
import { selectExternalInterface } from './select-interface.js';
import { createSubnetManager } from './subnet-manager-factory.js';

export interface DaemonDeps {
  logger: Logger;
  netlink: NetlinkHandle;
  /** The backends package's module (registry + loader); core cannot import it, the CLI passes it in. */
  backendsModule: ContainerModule;
  /** Runs iptables-restore / nft; tests may pass a fake. */
  runner?: CommandRunner;
}

/** Exit codes: 0 after a clean shutdown, 1 on any failure, including a revoked lease (Go exits 0 there, quirk 16). */
export type ExitCode = 0 | 1;

/** flanneld's startup sequence (facts §7.2) and its life until `signal` aborts. */
export async function runFlanneld(opts: FlanneldOptions, deps: DaemonDeps, signal: AbortSignal): Promise<ExitCode> {
  const { logger } = deps;
  const previous = await readSubnetFile(opts.subnetFile, (w) => logger.warn({ file: opts.subnetFile, ...w }, 'ignoring an entry of the previous subnet file'));
  const { manager, registry } = createSubnetManager(opts, previous, logger);
  logger.info({ subnetManager: manager.name }, 'subnet manager created');
  const metrics = new DaemonMetrics();
  const health = new HealthServer(logger, metrics);
  try {
    if (opts.healthzPort > 0) await health.listen(opts.healthzIP, opts.healthzPort);
    const config = await waitForConfig(manager, logger, signal);
    if (!config) return 0;
    logger.info({ network: config.network?.toString(), ipv6Network: config.ipv6Network?.toString(), subnetLen: config.subnetLen, backend: config.backendType }, 'network config');

    if (!config.enableNFTables) checkBrNetfilter(config);
    const { extIface, reason } = await selectExternalInterface(deps.netlink, {
      ifaces: opts.ifaces,
      ifaceRegexes: opts.ifaceRegexes,
      ...(opts.ifaceCanReach ? { ifaceCanReach: opts.ifaceCanReach } : {}),
      ...(opts.publicIP ? { publicIP: opts.publicIP } : {}),
      ...(opts.publicIPv6 ? { publicIPv6: opts.publicIPv6 } : {}),
      ipv4: config.enableIPv4,
      ipv6: config.enableIPv6,
    });
    logger.info({ iface: extIface.iface.name, mtu: extIface.iface.mtu, ifaceAddr: extIface.ifaceAddr?.toString(), publicIP: extIface.extAddr?.toString(), publicIPv6: extIface.extV6Addr?.toString(), reason }, 'using interface');

    const container = createContainer(
      coreModule({ logger, clock: systemClock }),
      deps.backendsModule,
      new ContainerModule(({ bind }) => {
        bind(SubnetManager).toConstantValue(manager);
        bind(ExternalInterface).toConstantValue(extIface);
        bind(Netlink).toConstantValue(deps.netlink);
      }),
    );
    const backends = container.get<BackendLookup>(BackendManagerToken);
    logger.info({ type: config.backendType }, 'loading backend; acquiring a lease');
    const backend = await backends.getBackend(config.backendType);
    const network = await backend.registerNetwork(config, signal);
    logger.info({ subnet: network.lease.subnet?.toString(), ipv6Subnet: network.lease.ipv6Subnet?.toString(), expiration: network.lease.expiration?.toISOString() ?? 'never (reservation)' }, 'lease acquired');
    if (network.stats) metrics.watchNetwork(() => network.stats!());

    const traffic = new TrafficManager(deps.runner ?? execRunner, logger, {
      nftables: config.enableNFTables,
      ipMasq: opts.ipMasq,
      fullyRandomDisable: opts.ipMasqFullyRandomDisable,
      forwardRules: opts.iptablesForwardRules,
      resyncSeconds: opts.iptablesResyncSeconds,
    });
    await traffic.setup(familyNets(config, network.lease), previous);

    return await runNetwork(opts, config, network, manager, health, traffic, logger, signal);
  } catch (err) {
    if (signal.aborted && !isUserError(err)) return 0;
    throw err;
  } finally {
    await health.close();
    await registry.close();
  }
}

async function runNetwork(
  opts: FlanneldOptions,
  config: NetworkConfig,
  network: Network,
  manager: StoreSubnetManager,
  health: HealthServer,
  traffic: TrafficManager,
  logger: Logger,
  signal: AbortSignal,
): Promise<ExitCode> {
  const stop = new AbortController();
  const onAbort = () => stop.abort();
  signal.addEventListener('abort', onAbort, { once: true });
  const running = Promise.all([
    network.run(stop.signal).catch((err: Error) => {
      logger.error({ err: err.message }, 'backend stopped with an error');
      stop.abort();
    }),
    traffic.resync(stop.signal),
  ]);
  try {
    await writeSubnetFile(opts.subnetFile, {
      ...(config.enableIPv4 && config.network ? { network: config.network, subnet: network.lease.subnet! } : {}),
      ...(config.enableIPv6 && config.ipv6Network ? { ipv6Network: config.ipv6Network, ipv6Subnet: network.lease.ipv6Subnet! } : {}),
      mtu: network.mtu,
      ipMasq: opts.ipMasq,
    });
    health.setReady();
    logger.info({ file: opts.subnetFile, mtu: network.mtu }, 'wrote subnet file; flannel is ready');
  } catch (err) {
    logger.warn({ file: opts.subnetFile, err: (err as Error).message }, 'cannot write the subnet file');
  }
  let code: ExitCode = 0;
  try {
    await manager.completeLease(network.lease, stop.signal);
  } catch (err) {
    if (!(err instanceof LeaseRevokedError)) throw err;
    code = 1;
  } finally {
    stop.abort();
    signal.removeEventListener('abort', onAbort);
    await running;
  }
  logger.info({ code }, code === 0 ? 'Exiting cleanly...' : 'exiting: our lease was revoked');
  return code;
}

/** Step 7: iptables mode needs br_netfilter, or bridged pod traffic bypasses the rules. */
function checkBrNetfilter(config: NetworkConfig): void {
  const files = [...(config.enableIPv4 ? ['iptables'] : []), ...(config.enableIPv6 ? ['ip6tables'] : [])].map((t) => `/proc/sys/net/bridge/bridge-nf-call-${t}`);
  for (const f of files) {
    if (!existsSync(f)) {
      throw new UserError('br_netfilter', `Failed to check br_netfilter: ${f} does not exist`, 'load the br_netfilter kernel module (modprobe br_netfilter), or set EnableNFTables in net-conf');
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

/** Step 5: ask for the network config every second until there is one (or we are stopped). */
async function waitForConfig(manager: StoreSubnetManager, logger: Logger, signal: AbortSignal): Promise<NetworkConfig | undefined> {
  for (;;) {
    try {
      return await manager.getNetworkConfig(AbortSignal.any([signal, AbortSignal.timeout(5000)]));
    } catch (err) {
      if (signal.aborted) return undefined;
      logger.error({ err: (err as Error).message }, 'waiting for the network config; retrying in 1 s');
    }
    if (!(await sleep(1000, signal))) return undefined;
  }
}
