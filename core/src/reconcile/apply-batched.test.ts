import type { Netlink, OpResult } from '../contracts/netlink.js';
import { NetlinkError } from '../netlink/errors.js';
import type { NetlinkRequest } from '../netlink/socket/netlink-socket.js';
import { RecordingLogger } from '../testing/recording-logger.js';
import { applyBatched, logFailures, OPS_PER_CHUNK } from './apply-batched.js';
import { planRequests, type KernelEntry } from './kernel-entry.js';

const ENOENT = 2;
const EEXIST = 17;

/** Entries that count how often their requests are built. */
function entries(n: number, built: number[]): KernelEntry[] {
  return Array.from({ length: n }, (_, i) => {
    const request = (verb: string): NetlinkRequest => {
      built[i] = (built[i] ?? 0) + 1;
      return { op: `ip route ${verb} 10.0.${i}.0/24`, type: 24, flags: 0, body: () => undefined };
    };
    return { key: `route 254 10.0.${i}.0/24`, value: '', rank: 3, put: () => request('replace'), del: () => request('del') };
  });
}

describe('planRequests and applyBatched', () => {
  it('build each chunk of requests just before it is sent, once each, deletions first', async () => {
    const built: number[] = [];
    const n = OPS_PER_CHUNK * 2 + 5;
    const all = entries(n, built);
    const ops = planRequests({ dels: all.slice(0, 3), puts: all.slice(3) });
    expect(ops.length).toBe(n);
    expect(built.filter(Boolean)).toHaveLength(0);
    const sent: string[][] = [];
    const nl = {
      apply: async (chunk: readonly NetlinkRequest[]): Promise<OpResult[]> => {
        // Nothing after this chunk has been built yet.
        expect(built.filter(Boolean)).toHaveLength(sent.flat().length + chunk.length);
        sent.push(chunk.map((r) => r.op));
        return chunk.map(() => undefined);
      },
    } as unknown as Netlink;
    const results = await applyBatched(nl, ops);
    expect(results).toHaveLength(n);
    expect(sent.map((c) => c.length)).toEqual([OPS_PER_CHUNK, OPS_PER_CHUNK, 5]);
    expect(sent[0]!.slice(0, 4)).toEqual(['ip route del 10.0.0.0/24', 'ip route del 10.0.1.0/24', 'ip route del 10.0.2.0/24', 'ip route replace 10.0.3.0/24']);
    expect(built.every((b) => b === 1)).toBe(true);
  });

  it('builds a request again only to name a failure, and counts deleting what is gone as success', async () => {
    const built: number[] = [];
    const all = entries(6, built);
    const ops = planRequests({ dels: all.slice(0, 2), puts: all.slice(2) });
    const answers: OpResult[] = [new NetlinkError('x', ENOENT), undefined, undefined, new NetlinkError('x', EEXIST), undefined, undefined];
    const results = await applyBatched({ apply: async () => answers } as unknown as Netlink, ops);
    const logger = new RecordingLogger();
    expect(logFailures(ops, results, logger, 'testing')).toBe(1);
    expect(built).toEqual([2, 1, 1, 2, 1, 1]);
    expect(logger.entries.map((e) => (e.obj as { op?: string }).op)).toEqual(['ip route replace 10.0.3.0/24']);
  });
});
