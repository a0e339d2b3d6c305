// The proxy's routing table: peer subnets → the peer's PublicIP:port, longest prefix first.

/** Where a peer's packets go: its public address and the udp port, as unsigned numbers. */
export interface NextHop {
  ip: number;
  port: number;
  /** Set by the data path when the way to this peer refused a UDP GSO message; a new lease brings a new hop. */
  noGso?: boolean;
}

/** One table change as the control thread sends it to the data path. */
export type PeerTableOp = { op: 'set'; net: number; len: number; ip: number; port: number } | { op: 'del'; net: number; len: number } | { op: 'clear' };

export function prefixMask(len: number): number {
  return len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0;
}

/**
 * A longest-prefix-match table of IPv4 subnets, one hash map per prefix length in use, probed from the
 * longest: a lookup costs one probe per distinct length (one in a flannel network, whose node subnets all
 * have SubnetLen). Go's proxy keeps a list it scans with move-to-front; the answers are the same, except that
 * Go returns the first match it meets where this returns the most specific one.
 */
export class PeerTable {
  private readonly byLen = new Map<number, Map<number, NextHop>>();
  /** The tables in use with their masks, longest prefix first. */
  private levels: { mask: number; table: Map<number, NextHop> }[] = [];
  private count = 0;

  get size(): number {
    return this.count;
  }

  /** Adds or replaces the next hop of `net/len` (host bits of `net` are ignored). */
  set(net: number, len: number, hop: NextHop): void {
    let table = this.byLen.get(len);
    if (!table) {
      table = new Map();
      this.byLen.set(len, table);
      this.relevel();
    }
    const key = (net & prefixMask(len)) >>> 0;
    if (!table.has(key)) this.count++;
    table.set(key, { ip: hop.ip >>> 0, port: hop.port });
  }

  delete(net: number, len: number): boolean {
    const table = this.byLen.get(len);
    if (!table?.delete((net & prefixMask(len)) >>> 0)) return false;
    this.count--;
    if (table.size === 0) {
      this.byLen.delete(len);
      this.relevel();
    }
    return true;
  }

  clear(): void {
    this.byLen.clear();
    this.levels = [];
    this.count = 0;
  }

  /** The next hop of the most specific subnet that contains `dst`, if any. */
  lookup(dst: number): NextHop | undefined {
    const levels = this.levels;
    for (let i = 0; i < levels.length; i++) {
      const level = levels[i]!;
      const hop = level.table.get((dst & level.mask) >>> 0);
      if (hop) return hop;
    }
    return undefined;
  }

  private relevel(): void {
    this.levels = [...this.byLen.entries()].sort(([a], [b]) => b - a).map(([len, table]) => ({ mask: prefixMask(len), table }));
  }

  apply(op: PeerTableOp): void {
    if (op.op === 'set') this.set(op.net, op.len, op);
    else if (op.op === 'del') this.delete(op.net, op.len);
    else this.clear();
  }
}
