import { RecordingLogger } from '../../testing/recording-logger.js';
import type { EtcdClient } from './client.js';
import { EtcdRegistry, LIST_PAGE_SIZE } from './etcd-registry.js';
import { GrpcError, Status } from './grpc.js';
import type { KeyValue, RangeRequest, RangeResponse } from './messages.js';

const PREFIX = '/coreos.com/network';
const header = (revision: number) => ({ clusterId: '1', memberId: '1', revision, raftTerm: 1 });
const kv = (i: number): KeyValue => ({
  key: `${PREFIX}/subnets/10.${i >> 8}.${i & 255}.0-24`,
  value: '{}',
  createRevision: 2,
  modRevision: 2,
  version: 1,
  lease: 7n,
});

/**
 * A registry whose client answers Range from `store` (sorted as etcd sorts: by bytes), a page at a time;
 * `fail(request)` may throw instead. No connection is made. The fake ignores `revision` and `rangeEnd`:
 * the pinning is checked by what the requests ask for, and a real etcd serves the listing in
 * test/etcd/etcd-subnet-manager.test.ts.
 */
function registryOver(store: KeyValue[], fail: (r: RangeRequest, calls: number) => void = () => undefined) {
  const registry = new EtcdRegistry({ hosts: ['http://192.0.2.1:2379'] }, PREFIX, new RecordingLogger());
  const requests: RangeRequest[] = [];
  const range = async (r: RangeRequest): Promise<RangeResponse> => {
    requests.push(r);
    fail(r, requests.length);
    const from = store.findIndex((e) => Buffer.compare(Buffer.from(e.key), Buffer.from(r.key)) >= 0);
    const rest = from < 0 ? [] : store.slice(from);
    const kvs = rest.slice(0, r.limit || undefined);
    return { header: header(100 + requests.length), kvs, more: kvs.length < rest.length, count: rest.length };
  };
  (registry as unknown as { client: Pick<EtcdClient, 'range'> }).client.range = range;
  return { registry, requests };
}

describe('EtcdRegistry.list', () => {
  const n = 2 * LIST_PAGE_SIZE + 5;
  const store = Array.from({ length: n }, (_, i) => kv(i)).sort((a, b) => Buffer.compare(Buffer.from(a.key), Buffer.from(b.key)));

  it('reads the keys a page at a time, every page as of the first page’s revision', async () => {
    const { registry, requests } = registryOver(store);
    const { entries, revision } = await registry.list(new AbortController().signal);
    expect(entries.map((e) => e.key)).toEqual(store.map((e) => e.key.slice(`${PREFIX}/subnets/`.length)));
    expect(revision).toBe(101);
    expect(requests.map((r) => [r.limit, r.revision])).toEqual([
      [LIST_PAGE_SIZE, undefined],
      [LIST_PAGE_SIZE, 101],
      [LIST_PAGE_SIZE, 101],
    ]);
    // Each page starts just after the last key of the one before.
    expect(requests[1]!.key).toBe(`${store[LIST_PAGE_SIZE - 1]!.key}\0`);
  });

  it('starts again from the present when etcd compacted that revision between two pages', async () => {
    const { registry, requests } = registryOver(store, (r, calls) => {
      if (calls === 2) throw new GrpcError(Status.OUT_OF_RANGE, 'etcdserver: mvcc: required revision has been compacted', 'http://192.0.2.1:2379', true);
      return r;
    });
    const { entries, revision } = await registry.list(new AbortController().signal);
    expect(entries).toHaveLength(n);
    expect(new Set(entries.map((e) => e.key)).size).toBe(n);
    // The second listing's first page (the third request) sets the revision.
    expect(revision).toBe(103);
    expect(requests[2]!.revision).toBeUndefined();
  });

  it('ends on an empty store, and on a last page that is exactly full', async () => {
    const empty = registryOver([]);
    expect(await empty.registry.list(new AbortController().signal)).toEqual({ entries: [], revision: 101 });
    const full = registryOver(store.slice(0, LIST_PAGE_SIZE));
    expect((await full.registry.list(new AbortController().signal)).entries).toHaveLength(LIST_PAGE_SIZE);
    expect(full.requests).toHaveLength(1);
  });

  it('reads the rest in one reply from the page’s start when its last key is not UTF-8 (its successor cannot be named)', async () => {
    // U+FFFD stands for bytes the decoder could not read. The fake serves the array in its order, as etcd its own.
    const garbled = { ...kv(0), key: `${PREFIX}/subnets/\uFFFDgarbage` };
    const withGarbage = [...store.slice(0, LIST_PAGE_SIZE - 1), garbled, ...store.slice(LIST_PAGE_SIZE - 1)];
    const { registry, requests } = registryOver(withGarbage);
    const { entries } = await registry.list(new AbortController().signal);
    expect(entries.map((e) => e.key)).toEqual(withGarbage.map((e) => e.key.slice(`${PREFIX}/subnets/`.length)));
    expect(requests.map((r) => [r.key, r.limit, r.revision])).toEqual([
      [`${PREFIX}/subnets/`, LIST_PAGE_SIZE, undefined],
      [`${PREFIX}/subnets/`, undefined, 101],
    ]);
  });

  it('gives up after three compactions in a row, and passes other errors on at once', async () => {
    const compacted = new GrpcError(Status.OUT_OF_RANGE, 'compacted', 'http://192.0.2.1:2379', true);
    const always = registryOver(store, (r) => {
      if (r.revision !== undefined) throw compacted;
    });
    await expect(always.registry.list(new AbortController().signal)).rejects.toBe(compacted);
    expect(always.requests.filter((r) => r.revision === undefined)).toHaveLength(3);
    const denied = new GrpcError(Status.PERMISSION_DENIED, 'no', 'http://192.0.2.1:2379', true);
    const other = registryOver(store, () => {
      throw denied;
    });
    await expect(other.registry.list(new AbortController().signal)).rejects.toBe(denied);
    expect(other.requests).toHaveLength(1);
  });
});
