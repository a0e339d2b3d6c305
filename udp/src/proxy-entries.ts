// The proxy's peer table as core's engine sees it: one kernel entry per peer subnet, written through the
// engine's netlink like any other entry, except that these land in the worker's table instead of the kernel.
//
// The engine diffs, batches, prunes and repairs entries it gets from planPeer and readKernel, and sends
// each entry's put()/del() request through the Netlink it was given. The udp Network hands it
// `withProxyTable(netlink, table)`: that Netlink sends rtnetlink requests to the kernel as before, and
// turns the requests built here into table operations for the data path, in order, in one message.
import type { IPNet, KernelEntry, Netlink, OpResult } from '@flannel-ts/core';
import type { NetlinkRequest } from '@flannel-ts/core/netlink';
import type { DataPath } from './data-path.js';
import { ipv4ToNumber } from './ipv4.js';
import type { PeerTableOp } from './peer-table.js';

/** Which requests are table operations, of which entry. A request not in here goes to the kernel. */
const TABLE_OPS = new WeakMap<NetlinkRequest, { op: PeerTableOp; entry: ProxyPeerEntry }>();

function tableRequest(entry: ProxyPeerEntry, text: string, op: PeerTableOp): NetlinkRequest {
  const request: NetlinkRequest = {
    op: text,
    type: 0,
    flags: 0,
    body: () => {
      throw new Error(`"${text}" is an operation on the udp proxy's table, not a netlink message; send it through withProxyTable()`);
    },
  };
  TABLE_OPS.set(request, { op, entry });
  return request;
}

/** Where one peer subnet's packets go: that node's PublicIP, on our Port (Go's proxy sends every peer to its own port). */
export class ProxyPeerEntry implements KernelEntry {
  readonly key: string;
  readonly value: string;
  readonly rank = 0;

  constructor(
    readonly subnet: IPNet,
    private readonly ip: string,
    private readonly port: number,
  ) {
    this.key = `udppeer ${subnet}`;
    this.value = `${ip}:${port}`;
  }

  put(): NetlinkRequest {
    const net = ipv4ToNumber(this.subnet.ip.toString());
    const op: PeerTableOp = { op: 'set', net, len: this.subnet.prefixLen, ip: ipv4ToNumber(this.ip), port: this.port };
    return tableRequest(this, `proxy set ${this.subnet} via ${this.value}`, op);
  }

  del(): NetlinkRequest {
    const net = ipv4ToNumber(this.subnet.ip.toString());
    return tableRequest(this, `proxy del ${this.subnet}`, { op: 'del', net, len: this.subnet.prefixLen });
  }
}

/**
 * What the data path's table holds, as entries: every operation sent to it, replayed here. The worker
 * applies every operation it is sent, in order, and cannot refuse one, so this is its table.
 */
export class ProxyTableMirror {
  private readonly entries = new Map<string, ProxyPeerEntry>();

  constructor(private readonly dataPath: DataPath) {}

  /** The table, for the engine's readKernel. */
  list(): ProxyPeerEntry[] {
    return [...this.entries.values()];
  }

  /** Sends the table operations among `requests` to the data path, in one message; returns which requests were table operations. */
  send(requests: readonly NetlinkRequest[]): boolean[] {
    const ops: PeerTableOp[] = [];
    const mine = requests.map((r) => {
      const t = TABLE_OPS.get(r);
      if (!t) return false;
      ops.push(t.op);
      if (t.op.op === 'set') this.entries.set(t.entry.key, t.entry);
      else this.entries.delete(t.entry.key);
      return true;
    });
    this.dataPath.update(ops);
    return mine;
  }
}

/**
 * `nl` for core's engine, with the proxy's table behind it: table operations go to the data path (and
 * never fail), everything else to the kernel through `nl`, and the results line up with the requests.
 */
export function withProxyTable(nl: Netlink, mirror: ProxyTableMirror): Netlink {
  const apply = async (requests: readonly NetlinkRequest[]): Promise<OpResult[]> => {
    const mine = mirror.send(requests);
    const rest = requests.filter((_, i) => !mine[i]);
    const kernel = rest.length > 0 ? await nl.apply(rest) : [];
    let k = 0;
    return mine.map((m) => (m ? undefined : kernel[k++]));
  };
  return new Proxy(nl, {
    get(target, prop) {
      if (prop === 'apply') return apply;
      const v = Reflect.get(target, prop, target) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}
