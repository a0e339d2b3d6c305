import { inject, injectable, multiInject, optional } from 'inversify';
import { BackendSource } from '@flannel-ts/backends';
import { BackendDescriptor, FLANNEL_ROUTE_PROTOCOL, Logger, Netlink } from '@flannel-ts/core';
import { CommandRunner, listTrafficRules, removeAllTrafficRules } from '@flannel-ts/core/internal';

/** What `--cleanup` would remove from this node, read now. */
export interface CleanupPlan {
  rules: string[];
  devices: string[];
  routes: string[];
  nexthops: number[];
  /** Backends whose code would not load, so what they made was not looked for: "<backend>: <why>". */
  skipped?: string[];
}

/** How --cleanup asks before it removes anything: answers true to go on. */
export type Confirm = (question: string) => Promise<boolean>;
export const Confirm = Symbol.for('flannel-ts.CleanupConfirm');

/** Asks on the terminal (stdin/stderr); anything but y/yes is no. */
export const askOnTerminal: Confirm = async (question) => {
  // Imported here: only --cleanup on a terminal asks, and a daemon's start need not load readline.
  const { createInterface } = await import('node:readline/promises');
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return /^y(es)?$/i.test((await rl.question(question)).trim());
  } finally {
    rl.close();
  }
};

export interface CleanupOptions {
  /** Print what would be removed and remove nothing. */
  dryRun: boolean;
  /** Do not ask. */
  yes: boolean;
  /** Whether a person is at a terminal (stdin is a TTY): only then is there anyone to ask. */
  interactive: boolean;
}

/**
 * `flanneld --cleanup`, for uninstalling a node: our iptables chains and nft tables (both modes, both
 * families), our routes and nexthops (proto 70), and what each backend's cleanup hook removes (devices). A running flanneld leaves all of these
 * in place on shutdown, as Go flannel does, so that pods keep their network across restarts. With
 * --dry-run it only says what it would remove; on a terminal it asks first unless --yes is given.
 */
@injectable()
export class NodeCleanup {
  constructor(
    @inject(Netlink) private readonly nl: Netlink,
    @inject(CommandRunner) private readonly runner: CommandRunner,
    @inject(Logger) private readonly logger: Logger,
    @inject(Confirm) private readonly confirm: Confirm,
    @multiInject(BackendDescriptor) @optional() private readonly backends: BackendDescriptor[] = [],
    @multiInject(BackendSource) @optional() private readonly sources: BackendSource[] = [],
  ) {}

  async plan(): Promise<CleanupPlan> {
    const { lines: devices, skipped } = await this.backendCleanup(true);
    const routes: string[] = [];
    for (const family of [4, 6] as const) {
      for (const r of await this.nl.routeList(family, { protocol: FLANNEL_ROUTE_PROTOCOL, table: 0 })) routes.push(String(r.dst ?? 'default'));
    }
    const nexthops = (await this.nl.nexthopList().catch(() => [])).filter((n) => n.protocol === FLANNEL_ROUTE_PROTOCOL).map((n) => n.id);
    return { rules: await listTrafficRules(this.runner, this.logger), devices, routes, nexthops, skipped };
  }

  /**
   * Returns the exit code: 0 done (or nothing to do, or a dry run), 1 when the person said no or a
   * backend could not be loaded to clean up after it (the rest is removed all the same).
   */
  async run(o: CleanupOptions): Promise<number> {
    const plan = await this.plan();
    const text = describePlan(plan);
    if (o.dryRun) {
      process.stdout.write(`flanneld --cleanup would remove:\n${text}`);
      return 0;
    }
    if (isEmpty(plan)) {
      this.logger.info({}, 'nothing of flannel to remove on this node');
      return 0;
    }
    if (!o.yes && o.interactive) {
      process.stderr.write(`flanneld --cleanup will remove:\n${text}`);
      if (!(await this.confirm('Remove all of this? Pods on this node lose their network. [y/N] '))) {
        process.stderr.write('nothing removed\n');
        return 1;
      }
    }
    const skipped = await this.apply();
    if (skipped.length === 0) return 0;
    this.logger.error({ skipped }, 'some backends could not be loaded: their devices may remain; reinstall flannel-ts and run --cleanup again');
    return 1;
  }

  private async backendCleanup(dryRun: boolean): Promise<{ lines: string[]; skipped: string[] }> {
    // A backend whose code will not load cannot say what it made; the others still clean up.
    const loaded: BackendDescriptor[] = [];
    const skipped: string[] = [];
    for (const [i, r] of (await Promise.allSettled((this.sources ?? []).map((s) => s.load()))).entries()) {
      if (r.status === 'fulfilled') loaded.push(r.value);
      else skipped.push(`${this.sources[i]!.name}: ${(r.reason as Error)?.message ?? String(r.reason)}`);
    }
    return { lines: await runHooks([...(this.backends ?? []), ...loaded], this.nl, this.logger, dryRun), skipped };
  }

  /** Removes everything it can; returns the backends it could not load. */
  private async apply(): Promise<string[]> {
    const { nl, logger } = this;
    await removeAllTrafficRules(this.runner, logger);
    const { lines, skipped } = await this.backendCleanup(false);
    for (const removed of lines) logger.info({ removed }, 'removed');
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
    return skipped;
  }
}

/** What every registered backend's cleanup hook removes (or would remove), as "<backend>: device flannel.1". */
async function runHooks(backends: BackendDescriptor[], nl: Netlink, logger: Logger, dryRun: boolean): Promise<string[]> {
  const lines: string[] = [];
  for (const b of backends) {
    if (!b.cleanup) continue;
    const removed = await b.cleanup({ netlink: nl, logger: logger.child({ backend: b.name }), dryRun });
    lines.push(...removed);
  }
  return lines;
}

const isEmpty = (p: CleanupPlan) => p.rules.length + p.devices.length + p.routes.length + p.nexthops.length + (p.skipped?.length ?? 0) === 0;

export function describePlan(p: CleanupPlan): string {
  if (isEmpty(p)) return '  nothing: no flannel rules, devices, routes or nexthops on this node\n';
  const lines = [
    ...(p.skipped ?? []).map((s) => `  skipped  ${s} (its backend would not load: what it made was not looked for)`),
    ...p.rules.map((r) => `  rules    ${r}`),
    ...p.devices.map((d) => `  ${d.replace(/^device /, 'device   ')}`),
    ...p.routes.map((r) => `  route    ${r} (proto 70)`),
    ...p.nexthops.map((id) => `  nexthop  id ${id} (proto 70)`),
  ];
  return `${lines.join('\n')}\n`;
}
