// The extension backend: Go flannel's, which leaves the data path to the operator's commands.
//
//   PreStartupCommand    before the lease; its output (trimmed) is published as BackendData, a JSON string
//   PostStartupCommand   once the lease is ours; env NETWORK SUBNET IPV6SUBNET PUBLIC_IP PUBLIC_IPV6
//   SubnetAddCommand     for each peer lease of type "extension" that appears (or changes);
//   SubnetRemoveCommand  for each that goes away; both with env SUBNET PUBLIC_IP (and, flannel-ts only,
//                        IPV6SUBNET PUBLIC_IPV6), and the peer's BackendData string plus "\n" on stdin
//
// Commands run without a shell, as current Go flannel runs them (command.ts), one at a time in the order of
// the lease events, each killed after CommandTimeout seconds (default 30). A failed pre- or post-startup
// command stops flanneld; a failed add or remove command is logged with its output, and the next event
// goes on, as in Go. Peers come from the subnet manager through core's LeaseWatcher, so they follow the
// same rules as every other backend's: our own lease is never reported, a removal carries the attributes
// the peer was added with, a snapshot after a gap re-announces what changed, an empty batch removes
// nothing. The pods' MTU is the interface's: the commands decide any encapsulation.
import {
  LeaseWatcher,
  UserError,
  type Backend,
  type BackendContext,
  type Lease,
  type LeaseAttrs,
  type LeaseEvent,
  type Network,
  type NetworkConfig,
  type NetworkStatus,
  type PeerStatus,
} from '@flannel-ts/core';
import { commandArgv, runCommand, type CommandResult } from './command.js';
import { parseExtensionConfig, type ExtensionConfig } from './config.js';

/** What a command's log line and error carry at most of its output. */
const OUTPUT_IN_LOG = 4096;
const clip = (s: string) => (s.length > OUTPUT_IN_LOG ? `${s.slice(0, OUTPUT_IN_LOG)} …` : s);

type CommandField = 'PreStartupCommand' | 'PostStartupCommand' | 'SubnetAddCommand' | 'SubnetRemoveCommand';

/** Shell syntax in a command that runs without a shell: each is passed to the program as a plain word. */
const SHELL_SYNTAX = /[;|&<>`'"]|\$\(/;

export class ExtensionBackend implements Backend {
  constructor(private readonly ctx: BackendContext) {}

  async registerNetwork(config: NetworkConfig, signal: AbortSignal): Promise<Network> {
    const { extIface, logger, subnetManager } = this.ctx;
    const cfg = parseExtensionConfig(config.backend, logger);
    const commands: [CommandField, string | undefined][] = [
      ['PreStartupCommand', cfg.preStartupCommand],
      ['PostStartupCommand', cfg.postStartupCommand],
      ['SubnetAddCommand', cfg.subnetAddCommand],
      ['SubnetRemoveCommand', cfg.subnetRemoveCommand],
    ];
    for (const [field, text] of commands) {
      if (text && SHELL_SYNTAX.test(text))
        logger.warn(
          { field: `Backend.${field}` },
          'the command has shell syntax (quotes, ;, |, &, redirections), but runs without a shell: those are passed as plain arguments; put the commands in a script and run that',
        );
    }
    if (config.enableIPv4 && !extIface.extAddr)
      throw new UserError('--iface', `${extIface.iface.name} has no IPv4 address`, 'pick an interface with one, or set --public-ip');
    if (config.enableIPv6 && !extIface.extV6Addr)
      throw new UserError('--iface', `${extIface.iface.name} has no IPv6 address`, 'pick an interface with one, or set --public-ipv6');

    const attrs: LeaseAttrs = { backendType: 'extension' };
    if (config.enableIPv4) attrs.publicIP = extIface.extAddr!;
    if (config.enableIPv6) attrs.publicIPv6 = extIface.extV6Addr!;
    if (cfg.preStartupCommand) {
      const r = await this.mustRun('PreStartupCommand', cfg.preStartupCommand, {}, cfg, signal);
      attrs.backendData = r.output;
    } else {
      logger.info({}, 'no pre-startup command configured; skipping');
    }

    const lease = await subnetManager.acquireLease(attrs, signal);
    if (cfg.postStartupCommand) {
      await this.mustRun(
        'PostStartupCommand',
        cfg.postStartupCommand,
        {
          NETWORK: config.network?.toString() ?? '',
          SUBNET: lease.subnet?.toString() ?? '',
          IPV6SUBNET: lease.ipv6Subnet?.toString() ?? '',
          PUBLIC_IP: attrs.publicIP?.toString() ?? '',
          PUBLIC_IPV6: attrs.publicIPv6?.toString() ?? '',
        },
        cfg,
        signal,
      );
    } else {
      logger.info({}, 'no post-startup command configured; skipping');
    }
    logger.info({ subnet: lease.subnet?.toString(), ipv6Subnet: lease.ipv6Subnet?.toString(), mtu: extIface.iface.mtu }, 'extension network ready');
    return new ExtensionNetwork(this.ctx, cfg, lease, extIface.iface.mtu);
  }

  /** A startup command: its failure is flanneld's, with the command's output in the error. */
  private async mustRun(field: CommandField, text: string, vars: Record<string, string>, cfg: ExtensionConfig, signal: AbortSignal): Promise<CommandResult> {
    const r = await run(text, vars, '', cfg, signal);
    if (r.failure) {
      throw new UserError(
        `Backend.${field}`,
        `${r.argv[0] ?? 'the command'} ${r.failure}${r.output ? `; its output: ${clip(r.output)}` : ' with no output'}`,
        'fix the command (it runs without a shell), or leave it out',
      );
    }
    this.ctx.logger.info({ field, program: r.argv[0], output: clip(r.output) }, 'ran command');
    return r;
  }
}

function run(text: string, vars: Record<string, string>, stdin: string, cfg: ExtensionConfig, signal: AbortSignal): Promise<CommandResult> {
  return runCommand(commandArgv(text, vars), { vars, stdin, timeoutMs: cfg.commandTimeoutS * 1000, signal });
}

/** A peer as the last event left it, for stats and status. */
interface PeerState {
  lease: Lease;
  /** Why its add command did not run or failed; empty when it succeeded. */
  problems: string[];
}

/** Runs the add and remove commands for lease events, one at a time, until aborted. */
class ExtensionNetwork implements Network {
  private readonly peers = new Map<string, PeerState>();
  private synced = false;

  constructor(
    private readonly ctx: BackendContext,
    private readonly cfg: ExtensionConfig,
    readonly lease: Lease,
    readonly mtu: number,
  ) {}

  async run(signal: AbortSignal): Promise<void> {
    const { logger } = this.ctx;
    const watcher = new LeaseWatcher(this.lease, (l) => logger.debug({ subnet: String(l.subnet) }, 'removed subnet was not known'));
    const queue: { event: LeaseEvent; last: boolean }[] = [];
    let wake: (() => void) | undefined;
    let failure: Error | undefined;
    const sub = this.ctx.subnetManager.watchLeases().subscribe({
      next: (result) => {
        const events = watcher.apply(result);
        events.forEach((event, i) => queue.push({ event, last: result.kind === 'snapshot' && i === events.length - 1 }));
        if (result.kind === 'snapshot' && events.length === 0) this.synced = true;
        wake?.();
      },
      error: (err: Error) => {
        failure = new Error(`lease watch failed: ${err.message}`);
        wake?.();
      },
    });
    const onAbort = () => wake?.();
    signal.addEventListener('abort', onAbort, { once: true });
    logger.info({}, 'watching for new subnet leases');
    try {
      while (!signal.aborted && !failure) {
        const next = queue.shift();
        if (!next) {
          await new Promise<void>((resolve) => (wake = resolve));
          wake = undefined;
          continue;
        }
        await this.handle(next.event, signal);
        if (next.last) this.synced = true;
      }
    } finally {
      sub.unsubscribe();
      signal.removeEventListener('abort', onAbort);
    }
    if (failure) throw failure;
  }

  private async handle(event: LeaseEvent, signal: AbortSignal): Promise<void> {
    const { logger } = this.ctx;
    const { lease } = event;
    const key = `${lease.subnet ?? '-'} ${lease.ipv6Subnet ?? '-'}`;
    const subnet = lease.subnet?.toString() ?? lease.ipv6Subnet?.toString();
    const added = event.type === 'added';
    logger.info({ subnet, publicIP: lease.attrs.publicIP?.toString() }, added ? 'subnet added' : 'subnet removed');
    if (added) this.peers.set(key, { lease, problems: [] });
    else this.peers.delete(key);

    const skip = (problem: string) => {
      logger.warn({ subnet, problem }, `peer ${added ? 'added' : 'removed'} without running a command`);
      if (added) this.peers.get(key)!.problems.push(problem);
    };
    if (lease.attrs.backendType !== 'extension') return skip(`ignoring non-extension subnet: BackendType is ${JSON.stringify(lease.attrs.backendType ?? '')}`);
    const field: CommandField = added ? 'SubnetAddCommand' : 'SubnetRemoveCommand';
    const text = added ? this.cfg.subnetAddCommand : this.cfg.subnetRemoveCommand;
    if (!text) return;
    // Go decodes BackendData into a string: absent or null is an empty one, anything else is refused.
    const data = lease.attrs.backendData;
    if (data !== undefined && data !== null && typeof data !== 'string') return skip('BackendData is not a JSON string');

    const r = await run(
      text,
      {
        SUBNET: lease.subnet?.toString() ?? '',
        PUBLIC_IP: lease.attrs.publicIP?.toString() ?? '',
        IPV6SUBNET: lease.ipv6Subnet?.toString() ?? '',
        PUBLIC_IPV6: lease.attrs.publicIPv6?.toString() ?? '',
      },
      data ?? '',
      this.cfg,
      signal,
    );
    if (r.failure) {
      if (signal.aborted) return;
      logger.error({ field, subnet, program: r.argv[0], failure: r.failure, output: clip(r.output) }, `${field} failed`);
      if (added) this.peers.get(key)?.problems.push(`${field} ${r.failure}`);
      return;
    }
    logger.info({ field, subnet, program: r.argv[0] }, 'ran command');
    if (r.output) logger.debug({ field, subnet, output: clip(r.output) }, 'command output');
  }

  stats() {
    const all = [...this.peers.values()];
    const skipped = all.filter((p) => p.problems.length > 0).length;
    return { peers: all.length - skipped, skippedPeers: skipped };
  }

  status(): NetworkStatus {
    const peers: PeerStatus[] = [...this.peers.values()].map(({ lease, problems }) => {
      const a = lease.attrs;
      return {
        ...(lease.subnet ? { subnet: lease.subnet.toString() } : {}),
        ...(lease.ipv6Subnet ? { ipv6Subnet: lease.ipv6Subnet.toString() } : {}),
        ...(a.publicIP ? { publicIP: a.publicIP.toString() } : {}),
        ...(a.publicIPv6 ? { publicIPv6: a.publicIPv6.toString() } : {}),
        ...(a.backendType !== undefined ? { backendType: a.backendType } : {}),
        ...(a.backendData !== undefined ? { backendData: a.backendData } : {}),
        state: problems.length > 0 ? 'skipped' : 'programmed',
        problems: [...problems],
        entries: 0,
      };
    });
    return { synced: this.synced, peers, repairs: {} };
  }
}
