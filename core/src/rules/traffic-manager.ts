import type { Logger } from '../contracts/logger.js';
import type { PreviousSubnetEnv } from '../subnet-file/subnet-env.js';
import type { Clock } from '../contracts/clock.js';
import type { Observable, Subscription } from 'rxjs';
import { every, retryBackoff } from '../util/retry.js';
import type { CommandRunner } from './command-runner.js';
import { IptablesBackend } from './iptables.js';
import { NftablesBackend } from './nftables.js';
import type { ChainSpec, RuleBackend } from './rule-backend.js';
import { iptablesForwardRules, iptablesMasqRules, nftForwardRules, nftMasqRules, type FamilyNets } from './rule-sets.js';

export interface TrafficOptions {
  nftables: boolean;
  ipMasq: boolean;
  fullyRandomDisable: boolean;
  forwardRules: boolean;
  resyncSeconds: number;
  /**
   * The kernel's notifications that nf_tables changed (Netlink.monitor(['nftables'])). With them, and rules
   * kept in nf_tables, a resync reads the rules only after a change, or once CHECK_ANYWAY_MS has passed.
   */
  changes?: Observable<unknown>;
  /** After each resync: how many chains had to be restored, or why it failed (flanneld's metrics and /readyz). */
  onResync?(result: { repaired: number; error?: string }): void;
}

/**
 * With change notifications, a resync that heard of none reads the rules anyway after this long: a
 * notification lost (the socket's queue overflowing) must not leave a removed rule missing for ever.
 */
const CHECK_ANYWAY_MS = 60_000;

/**
 * The traffic-rule steps of flanneld's startup: remove the other mode's rules, install the
 * masquerade and forward rules, and put back every `resyncSeconds` whatever someone removed (both modes;
 * Go resyncs iptables only). Rules stay in place when flanneld stops, as in Go flannel.
 */
export class TrafficManager {
  private readonly backend: RuleBackend;
  private readonly other: RuleBackend;
  private specs: ChainSpec[] = [];

  constructor(
    runner: CommandRunner,
    private readonly logger: Logger,
    private readonly clock: Clock,
    private readonly opts: TrafficOptions,
  ) {
    const ipt = new IptablesBackend(runner, logger);
    const nft = new NftablesBackend(runner, logger);
    [this.backend, this.other] = opts.nftables ? [nft, ipt] : [ipt, nft];
  }

  async setup(nets: FamilyNets[], previous: PreviousSubnetEnv | undefined): Promise<void> {
    for (const n of nets) {
      await this.other.removeAll(n.family).catch((err: Error) => this.logger.warn({ err: err.message }, `could not remove ${this.other.name} rules`));
      this.logRecycle(n, previous);
    }
    this.specs = [];
    for (const n of nets) {
      if (this.opts.ipMasq) {
        const fullyRandom = !this.opts.fullyRandomDisable && (await this.backend.supportsFullyRandom(n.family));
        const rules = this.backend.name === 'iptables' ? iptablesMasqRules(n, fullyRandom) : nftMasqRules(n, fullyRandom);
        this.specs.push({ family: n.family, kind: 'masq', rules });
      }
      if (this.opts.forwardRules) {
        this.specs.push({ family: n.family, kind: 'forward', rules: this.backend.name === 'iptables' ? iptablesForwardRules(n) : nftForwardRules(n) });
      }
    }
    for (const spec of this.specs) await this.backend.ensure(spec);
    if (this.specs.length) this.logger.info({ mode: this.backend.name, chains: this.specs.map((s) => `${s.kind}/ipv${s.family}`) }, 'traffic rules installed');
  }

  /** iptables or nftables. */
  get mode(): string {
    return this.backend.name;
  }

  /** The chains installed, e.g. masq/ipv4, forward/ipv4. */
  get chains(): string[] {
    return this.specs.map((s) => `${s.kind}/ipv${s.family}`);
  }

  /** Puts back missing or changed rules every resyncSeconds until `signal` aborts. */
  async resync(signal: AbortSignal): Promise<void> {
    if (this.specs.length === 0) return;
    const gate = await this.changeGate();
    const restore = async () => {
      if (gate && !gate.due()) return;
      let repaired = 0;
      for (const spec of this.specs) {
        if (await this.backend.ensure(spec)) {
          repaired++;
          this.logger.warn({ mode: this.backend.name, chain: `${spec.kind}/ipv${spec.family}` }, 'rules were missing or changed; restored');
        }
      }
      this.opts.onResync?.({ repaired });
    };
    try {
      await every(this.opts.resyncSeconds * 1000, signal, this.clock, restore, (err) => {
        gate?.failed();
        this.logger.error({ err: (err as Error).message }, 'could not restore traffic rules; retrying at the next resync');
        this.opts.onResync?.({ repaired: 0, error: (err as Error).message });
      });
    } finally {
      gate?.close();
    }
  }

  /**
   * Reading the rules spawns iptables-save or nft every few seconds: most of an idle flanneld's work.
   * When the kernel announces rule changes, reading them is only needed after one.
   */
  private async changeGate(): Promise<ChangeGate | undefined> {
    if (!this.opts.changes || !(await this.backend.inNfTables().catch(() => false))) return undefined;
    return new ChangeGate(this.opts.changes, this.clock, (err, count) =>
      this.logger[count === 1 ? 'warn' : 'debug'](
        { err: (err as Error).message },
        'lost the notifications of rule changes; reading the rules, and listening again',
      ),
    );
  }

  /**
   * The chain is rebuilt from scratch, so rules made for a previous network or subnet go with it. Go
   * flannel deleted them only when both had changed (an AND where an OR was meant); any change is enough here.
   */
  private logRecycle(n: FamilyNets, previous: PreviousSubnetEnv | undefined): void {
    if (!previous) return;
    const prevNets = n.family === 4 ? previous.networks : previous.ipv6Networks;
    const prevSubnet = n.family === 4 ? previous.subnet : previous.ipv6Subnet;
    const netChanged = prevNets.length > 0 && !prevNets.some((p) => p.equals(n.network));
    const subnetChanged = prevSubnet !== undefined && !prevSubnet.equals(n.podSubnet);
    if (netChanged || subnetChanged) {
      this.logger.info(
        { family: n.family, previousNetwork: prevNets.map(String), previousSubnet: prevSubnet?.toString() },
        'replacing the rules of the previous network or subnet',
      );
    }
  }
}

/** What removeAllTrafficRules would remove now (`flanneld --cleanup --dry-run`). */
export async function listTrafficRules(runner: CommandRunner, logger: Logger): Promise<string[]> {
  const found: string[] = [];
  for (const backend of [new IptablesBackend(runner, logger), new NftablesBackend(runner, logger)]) {
    for (const family of [4, 6] as const) found.push(...(await backend.present(family).catch((): string[] => [])));
  }
  return found;
}

/** `flanneld --cleanup`: every flannel chain and table, of both modes and both families. */
export async function removeAllTrafficRules(runner: CommandRunner, logger: Logger): Promise<void> {
  for (const backend of [new IptablesBackend(runner, logger), new NftablesBackend(runner, logger)]) {
    for (const family of [4, 6] as const) {
      await backend.removeAll(family).catch((err: Error) => logger.warn({ err: err.message }, `could not remove ${backend.name} rules`));
    }
  }
}

/** Whether a resync has anything to look at: a change announced since the last one, or a long quiet. */
class ChangeGate {
  private changed = true;
  private lastCheck = 0;
  private readonly sub: Subscription;

  constructor(
    changes: Observable<unknown>,
    private readonly clock: Clock,
    onLost: (err: unknown, count: number) => void,
  ) {
    // Notifications lost (the socket's queue overflowed under a burst of rule changes) say nothing of what
    // changed: read at the next resync, and listen again.
    const lost = (err: unknown, _ms: number, count: number) => {
      this.changed = true;
      onLost(err, count);
    };
    this.sub = changes.pipe(retryBackoff({ clock, initialMs: 1000, maxMs: 30_000, onError: lost })).subscribe(() => (this.changed = true));
  }

  /** Called at each resync; true when it must read the rules (and from then on counts as checked). */
  due(): boolean {
    const now = this.clock.now().getTime();
    if (!this.changed && now - this.lastCheck < CHECK_ANYWAY_MS) return false;
    this.changed = false;
    this.lastCheck = now;
    return true;
  }

  /** A check that failed is tried again at the next resync, change or not. */
  failed(): void {
    this.changed = true;
  }

  close(): void {
    this.sub.unsubscribe();
  }
}
