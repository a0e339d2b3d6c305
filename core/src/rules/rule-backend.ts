/** A chain of ours: where it hangs (table, parent hook) and the rules it must hold, in order. */
export interface ChainSpec {
  family: 4 | 6;
  kind: 'masq' | 'forward';
  rules: string[];
}

/** One way of installing rules (iptables-restore or nft). Each method is idempotent. */
export interface RuleBackend {
  readonly name: 'iptables' | 'nftables';
  /** Whether its rules live in nf_tables, whose every change the kernel announces (nft, iptables-nft). */
  inNfTables(): Promise<boolean>;
  /** Whether MASQUERADE may use random-fully here. */
  supportsFullyRandom(family: 4 | 6): Promise<boolean>;
  /** Makes the chain hold exactly `spec.rules`; returns true if it had to change anything. */
  ensure(spec: ChainSpec): Promise<boolean>;
  /** Removes our chains (and tables) of this family; nothing if there are none. */
  removeAll(family: 4 | 6): Promise<void>;
  /** What removeAll would remove now, e.g. "iptables nat/FLANNEL-POSTRTG (IPv4)". */
  present(family: 4 | 6): Promise<string[]>;
}

export class RuleError extends Error {
  override readonly name = 'RuleError';
}
