import { inject, injectable } from 'inversify';
import { FLANNEL_ROUTE_PROTOCOL, Logger, Netlink } from '@flannel-ts/core';
import { CommandRunner, removeAllTrafficRules } from '@flannel-ts/core/internal';

/** Device names flannel backends create: flannel.<VNI>, flannel-v6.<VNI>, flannel.ipip. */
const OUR_DEVICE = /^(flannel\.\d+|flannel-v6\.\d+|flannel\.ipip)$/;

/**
 * `flanneld --cleanup`, for uninstalling a node: our iptables chains and nft tables (both modes, both
 * families), our devices, and our routes and nexthops (proto 70). A running flanneld leaves all of these
 * in place on shutdown, as Go flannel does, so that pods keep their network across restarts.
 */
@injectable()
export class NodeCleanup {
  constructor(
    @inject(Netlink) private readonly nl: Netlink,
    @inject(CommandRunner) private readonly runner: CommandRunner,
    @inject(Logger) private readonly logger: Logger,
  ) {}

  run(): Promise<void> {
    return cleanupNode(this.nl, this.runner, this.logger);
  }
}

async function cleanupNode(nl: Netlink, runner: CommandRunner, logger: Logger): Promise<void> {
  await removeAllTrafficRules(runner, logger);
  for (const link of await nl.linkList()) {
    if (!OUR_DEVICE.test(link.name)) continue;
    await nl.linkDel(link.index);
    logger.info({ device: link.name }, 'removed device');
  }
  let routes = 0;
  for (const family of [4, 6] as const) {
    for (const r of await nl.routeList(family, { protocol: FLANNEL_ROUTE_PROTOCOL, table: 0 })) {
      await nl.routeDel({ ...r, protocol: FLANNEL_ROUTE_PROTOCOL }).catch(() => undefined);
      routes++;
    }
  }
  const nexthops = await nl.nexthopList().catch(() => []);
  for (const nh of nexthops.filter((n) => n.protocol === FLANNEL_ROUTE_PROTOCOL)) await nl.nexthopDel(nh.id).catch(() => undefined);
  logger.info({ routes }, 'removed routes; node cleaned up');
}
