import type { Logger } from '../contracts/logger.js';
import type { CommandRunner } from './command-runner.js';
import { RuleError, type ChainSpec, type RuleBackend } from './rule-backend.js';

const CHAINS = {
  masq: { chain: 'postrtg', hook: 'type nat hook postrouting priority srcnat', comment: 'chain to manage traffic masquerading by flannel' },
  forward: { chain: 'forward', hook: 'type filter hook forward priority filter', comment: 'chain to accept flannel traffic' },
} as const;

const table = (family: 4 | 6) => (family === 4 ? { fam: 'ip', name: 'flannel-ipv4' } : { fam: 'ip6', name: 'flannel-ipv6' });

/** Rules through `nft -f -`: tables flannel-ipv4 / flannel-ipv6, chains postrtg and forward, as Go flannel names them. */
export class NftablesBackend implements RuleBackend {
  readonly name = 'nftables' as const;

  constructor(
    private readonly run: CommandRunner,
    private readonly logger: Logger,
  ) {}

  /** nft's rules are nf_tables' by definition. */
  async inNfTables(): Promise<boolean> {
    return true;
  }

  /** Go flannel's test: can this kernel load a fully-random masquerade at all? A dry run (`nft -c`) says. */
  async supportsFullyRandom(family: 4 | 6): Promise<boolean> {
    const t = table(family);
    const probe = [
      `add table ${t.fam} ${t.name}-probe`,
      `add chain ${t.fam} ${t.name}-probe masqueradeTest { type nat hook postrouting priority srcnat ; }`,
      `add rule ${t.fam} ${t.name}-probe masqueradeTest masquerade fully-random`,
    ].join('\n');
    return (await this.run.run('nft', ['-c', '-f', '-'], probe)).code === 0;
  }

  async ensure(spec: ChainSpec): Promise<boolean> {
    const t = table(spec.family);
    const c = CHAINS[spec.kind];
    const listed = await this.run.run('nft', ['list', 'chain', t.fam, t.name, c.chain]);
    if (listed.code === 0 && sameRules(ruleLines(listed.stdout), spec.rules)) return false;
    const script = [
      `add table ${t.fam} ${t.name} { comment "rules for ${t.name}" ; }`,
      `add chain ${t.fam} ${t.name} ${c.chain} { ${c.hook} ; policy accept ; comment "${c.comment}" ; }`,
      `flush chain ${t.fam} ${t.name} ${c.chain}`,
      ...spec.rules.map((r) => `add rule ${t.fam} ${t.name} ${c.chain} ${r}`),
      '',
    ].join('\n');
    const r = await this.run.run('nft', ['-f', '-'], script);
    if (r.code !== 0) throw new RuleError(`nft (${t.name} ${c.chain}) failed: ${r.stderr.trim()}`);
    return true;
  }

  async present(family: 4 | 6): Promise<string[]> {
    const t = table(family);
    return (await this.run.run('nft', ['list', 'table', t.fam, t.name])).code === 0 ? [`nftables table ${t.fam} ${t.name}`] : [];
  }

  async removeAll(family: 4 | 6): Promise<void> {
    const t = table(family);
    if ((await this.run.run('nft', ['list', 'table', t.fam, t.name])).code !== 0) return;
    const r = await this.run.run('nft', ['delete', 'table', t.fam, t.name]);
    if (r.code !== 0) throw new RuleError(`nft delete table ${t.fam} ${t.name} failed: ${r.stderr.trim()}`);
    this.logger.info({ table: t.name }, 'removed nftables table');
  }
}

/** The rule lines of `nft list chain` (no braces, chain header or comment lines). */
function ruleLines(listing: string): string[] {
  return listing
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !/^(table|chain|type|comment|}|policy)/.test(l) && !l.endsWith('{'));
}

/** nft prints marks zero-padded to 32 bits: `meta mark 0x4000` comes back as `meta mark 0x00004000`. */
function sameRules(have: string[], want: string[]): boolean {
  const norm = (r: string) => r.replace(/0x([0-9a-f]+)/gi, (_, h: string) => `0x${h.toLowerCase().padStart(8, '0')}`);
  return have.length === want.length && have.every((h, i) => norm(h) === norm(want[i]!));
}
