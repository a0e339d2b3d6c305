import type { Logger } from '../contracts/logger.js';
import type { CommandResult, CommandRunner } from './command-runner.js';
import { FORWARD_COMMENT, MASQ_COMMENT } from './rule-sets.js';
import { RuleError, type ChainSpec, type RuleBackend } from './rule-backend.js';

const CHAINS = {
  masq: { table: 'nat', chain: 'FLANNEL-POSTRTG', parent: 'POSTROUTING', comment: MASQ_COMMENT },
  forward: { table: 'filter', chain: 'FLANNEL-FWD', parent: 'FORWARD', comment: FORWARD_COMMENT },
} as const;

/**
 * Rules through iptables-restore --noflush --wait, one transaction per chain: declaring our chain
 * flushes it, the rules follow in order, and the jump from the built-in chain is added once.
 */
export class IptablesBackend implements RuleBackend {
  readonly name = 'iptables' as const;
  private readonly versions = new Map<4 | 6, Promise<CommandResult>>();

  constructor(
    private readonly run: CommandRunner,
    private readonly logger: Logger,
  ) {}

  private bin(family: 4 | 6, tool: '' | '-save' | '-restore'): string {
    return `${family === 4 ? 'iptables' : 'ip6tables'}${tool}`;
  }

  /** iptables-nft says "(nf_tables)" in its version line; iptables-legacy keeps rules where no change is announced. */
  async inNfTables(): Promise<boolean> {
    const r = await this.version(4);
    return r.code === 0 && r.stdout.includes('(nf_tables)');
  }

  /** --random-fully needs iptables 1.6.2 or later. */
  async supportsFullyRandom(family: 4 | 6): Promise<boolean> {
    const m = /v(\d+)\.(\d+)\.(\d+)/.exec((await this.version(family)).stdout);
    if (!m) return false;
    const [maj, min, patch] = m.slice(1).map(Number) as [number, number, number];
    return maj > 1 || (maj === 1 && (min > 6 || (min === 6 && patch >= 2)));
  }

  async ensure(spec: ChainSpec): Promise<boolean> {
    const c = CHAINS[spec.kind];
    const lines = await this.save(spec.family, c.table);
    const jump = `-A ${c.parent} -m comment --comment "${c.comment}" -j ${c.chain}`;
    const have = lines.filter((l) => l.startsWith(`-A ${c.chain} `)).map((l) => l.slice(`-A ${c.chain} `.length));
    const jumps = lines.filter((l) => l === jump).length;
    if (jumps === 1 && lines.includes(`:${c.chain} - [0:0]`) && sameList(have, spec.rules)) return false;
    const payload = [`*${c.table}`, `:${c.chain} - [0:0]`];
    for (let i = 1; i < jumps; i++) payload.push(jump.replace('-A ', '-D '));
    if (jumps === 0) payload.push(jump);
    payload.push(...spec.rules.map((r) => `-A ${c.chain} ${r}`), 'COMMIT', '');
    await this.restore(spec.family, payload.join('\n'), `${c.table}/${c.chain}`);
    return true;
  }

  /** Our chains in both tables, and the jumps to them (Go's cleanup looks for FLANNEL-FWD in nat, but it lives in filter). */
  async removeAll(family: 4 | 6): Promise<void> {
    for (const c of Object.values(CHAINS)) {
      const lines = await this.save(family, c.table).catch((): string[] => []);
      if (!lines.includes(`:${c.chain} - [0:0]`) && !lines.some((l) => l.endsWith(`-j ${c.chain}`))) continue;
      const payload: string[] = [`*${c.table}`];
      for (const l of lines) if (l.startsWith('-A ') && l.endsWith(`-j ${c.chain}`)) payload.push(l.replace('-A ', '-D '));
      payload.push(`:${c.chain} - [0:0]`, `-X ${c.chain}`, 'COMMIT', '');
      await this.restore(family, payload.join('\n'), `${c.table}/${c.chain}`);
      this.logger.info({ family, chain: c.chain }, 'removed iptables chain');
    }
  }

  async present(family: 4 | 6): Promise<string[]> {
    const found: string[] = [];
    for (const c of Object.values(CHAINS)) {
      const lines = await this.save(family, c.table).catch((): string[] => []);
      if (lines.includes(`:${c.chain} - [0:0]`) || lines.some((l) => l.endsWith(`-j ${c.chain}`)))
        found.push(`${this.bin(family, '')} ${c.table}/${c.chain} (IPv${family})`);
    }
    return found;
  }

  /** `iptables --version`, run once per family: setup (random-fully) and the resync (nf_tables or not) both ask. */
  private version(family: 4 | 6): Promise<CommandResult> {
    let answer = this.versions.get(family);
    if (!answer) {
      answer = this.run.run(this.bin(family, ''), ['--version']);
      this.versions.set(family, answer);
      // A command that could not be run at all is tried again next time, as before.
      answer.catch(() => this.versions.delete(family));
    }
    return answer;
  }

  private async save(family: 4 | 6, table: string): Promise<string[]> {
    const r = await this.run.run(this.bin(family, '-save'), ['-t', table]);
    if (r.code !== 0) throw new RuleError(`${this.bin(family, '-save')} -t ${table} failed: ${r.stderr.trim()}`);
    return r.stdout.split('\n').map((l) => l.trim());
  }

  private async restore(family: 4 | 6, payload: string, what: string): Promise<void> {
    const r = await this.run.run(this.bin(family, '-restore'), ['--noflush', '--wait'], payload);
    if (r.code !== 0) throw new RuleError(`${this.bin(family, '-restore')} (${what}) failed: ${r.stderr.trim()}`);
  }
}

function sameList(a: string[], b: string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
