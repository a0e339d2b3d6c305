// The hand-written etcd messages against bytes made by protobufjs from etcd's own rpc.proto/kv.proto (the
// encoder the etcd3 package uses): what we send must be what etcd expects, and what etcd sends must decode.
import {
  decodeAuthenticateResponse,
  decodeDeleteRangeResponse,
  decodeLeaseGrantResponse,
  decodeRangeResponse,
  decodeTxnResponse,
  decodeWatchResponse,
  encodeAuthenticateRequest,
  encodeLeaseGrantRequest,
  encodeLeaseRevokeRequest,
  encodePutRequest,
  encodeRangeRequest,
  encodeTxnRequest,
  encodeWatchCancelRequest,
  encodeWatchCreateRequest,
  prefixEnd,
} from './messages.js';
import { ProtoReader, ProtoWriter } from './proto.js';

const hex = (b: Buffer) => b.toString('hex');
const read = (h: string) => new ProtoReader(Buffer.from(h, 'hex'));
const BIG_LEASE = 7587869999999999999n; // above 2^53: a number would lose its low digits
const HEADER = '0a1e08b298eaf1948386fccd0110cdd2918bd2b881cf8e0118b1d1f9d6032005';
const header = { clusterId: '14841639068965178418', memberId: '10276657743932975437', revision: 987654321, raftTerm: 5 };

describe('etcd requests, byte for byte as protobufjs encodes them', () => {
  it('Range over a prefix, and a count-only Range', () => {
    const prefix = '/coreos.com/network/subnets/';
    expect(hex(encodeRangeRequest({ key: prefix, rangeEnd: prefixEnd(prefix) }))).toBe(
      '0a1c2f636f72656f732e636f6d2f6e6574776f726b2f7375626e6574732f121c2f636f72656f732e636f6d2f6e6574776f726b2f7375626e65747330',
    );
    expect(hex(encodeRangeRequest({ key: '/a/config', countOnly: true }))).toBe('0a092f612f636f6e6669674801');
  });

  it('Put with a 64-bit lease ID and prev_kv', () => {
    expect(hex(encodePutRequest({ key: '/k', value: '{"PublicIP":"1.2.3.4"}', lease: BIG_LEASE, prevKv: true }))).toBe(
      '0a022f6b12167b225075626c69634950223a22312e322e332e34227d18ffbfdffe80f2e1a6692001',
    );
  });

  it('Txn: create if absent (version == 0, written although zero), compare-and-swap on mod revision, compare on value', () => {
    expect(
      hex(
        encodeTxnRequest({
          compare: [{ key: '/k', target: 'version', result: '==', value: 0 }],
          success: [{ put: { key: '/k', value: 'v', lease: 0x694d7c2f3e3b5a01n } }],
        }),
      ),
    ).toBe('0a061a022f6b2000121312110a022f6b1201761881b4edf1f385dfa669');
    expect(
      hex(
        encodeTxnRequest({
          compare: [{ key: '/k', target: 'mod', result: '==', value: 300 }],
          success: [{ put: { key: '/k', value: 'v' } }],
          failure: [{ range: { key: '/k' } }, { deleteRange: { key: '/k' } }],
        }),
      ),
    ).toBe('0a0910021a022f6b30ac02120912070a022f6b1201761a060a040a022f6b1a061a040a022f6b');
    expect(hex(encodeTxnRequest({ compare: [{ key: '/k', target: 'value', result: '!=', value: 'x' }], success: [] }))).toBe('0a0b080310031a022f6b3a0178');
  });

  it('LeaseGrant, LeaseRevoke, Authenticate, Watch create and cancel', () => {
    expect(hex(encodeLeaseGrantRequest(86400))).toBe('0880a305');
    expect(hex(encodeLeaseRevokeRequest(BIG_LEASE))).toBe('08ffbfdffe80f2e1a669');
    expect(hex(encodeAuthenticateRequest('root', 's3cret'))).toBe('0a04726f6f741206733363726574');
    expect(hex(encodeWatchCreateRequest({ key: '/p/', rangeEnd: prefixEnd('/p/'), startRevision: 123456 }))).toBe('0a0e0a032f702f12032f703018c0c407');
    expect(hex(encodeWatchCancelRequest(3))).toBe('12020803');
  });
});

describe('etcd responses made by protobufjs, decoded', () => {
  it('a Range reply: 64-bit cluster/member/lease IDs exact, UTF-8 values, a key without lease', () => {
    const res = decodeRangeResponse(
      read(
        `${HEADER}12440a0e2f702f31302e352e312e302d32341002180720032a227b225075626c69634950223a223139322e302e322e31222c22c3a9223a22c3bc227d30ffbfdffe80f2e1a669121c0a0e2f702f31302e352e322e302d32341002180820032a027b7d300018012002`,
      ),
    );
    expect(res).toEqual({
      header,
      more: true,
      count: 2,
      kvs: [
        { key: '/p/10.5.1.0-24', value: '{"PublicIP":"192.0.2.1","é":"ü"}', createRevision: 2, modRevision: 7, version: 3, lease: BIG_LEASE },
        { key: '/p/10.5.2.0-24', value: '{}', createRevision: 2, modRevision: 8, version: 3, lease: 0n },
      ],
    });
  });

  it('a Txn reply with a put (prev_kv) and a range inside', () => {
    const res = decodeTxnResponse(
      read(
        `${HEADER}10011a3512330a1e08b298eaf1948386fccd0110cdd2918bd2b881cf8e0118b1d1f9d603200512110a022f6b1002180420032a036f6c64302a1a350a330a1e08b298eaf1948386fccd0110cdd2918bd2b881cf8e0118b1d1f9d6032005120f0a022f6b1002180520032a017830002001`,
      ),
    );
    expect(res.succeeded).toBe(true);
    expect(res.header).toEqual(header);
    expect(res.responses).toEqual([
      { put: { header, prevKv: { key: '/k', value: 'old', createRevision: 2, modRevision: 4, version: 3, lease: 42n } } },
      { range: { header, more: false, count: 1, kvs: [{ key: '/k', value: 'x', createRevision: 2, modRevision: 5, version: 3, lease: 0n }] } },
    ]);
  });

  it('LeaseGrant, Authenticate and DeleteRange replies', () => {
    expect(decodeLeaseGrantResponse(read(`${HEADER}10ffbfdffe80f2e1a6691880a305`))).toEqual({ header, id: BIG_LEASE, ttl: 86400, error: '' });
    expect(decodeAuthenticateResponse(read(`${HEADER}12076162632e646566`))).toEqual({ header, token: 'abc.def' });
    expect(decodeDeleteRangeResponse(read(`${HEADER}1001`))).toEqual({ header, deleted: 1, prevKvs: [] });
  });

  it('a Watch reply with a put and a delete, and a watch canceled by compaction', () => {
    const events = decodeWatchResponse(read(`${HEADER}10005a15080012110a042f702f611002180a20032a014130005a0c080112080a042f702f62180b`));
    expect(events).toMatchObject({ header, watchId: 0, created: false, canceled: false });
    expect(events.events).toEqual([
      { type: 'put', kv: { key: '/p/a', value: 'A', createRevision: 2, modRevision: 10, version: 3, lease: 0n } },
      { type: 'delete', kv: { key: '/p/b', value: '', createRevision: 0, modRevision: 11, version: 0, lease: 0n } },
    ]);
    const canceled = decodeWatchResponse(
      read(`${HEADER}10011801200128e121322a6d7663633a207265717569726564207265766973696f6e20686173206265656e20636f6d706163746564`),
    );
    expect(canceled).toMatchObject({
      watchId: 1,
      created: true,
      canceled: true,
      compactRevision: 4321,
      cancelReason: 'mvcc: required revision has been compacted',
    });
  });

  it('skips fields it does not know (a newer etcd), of every wire type', () => {
    const w = new ProtoWriter();
    w.int(99, 5); // varint
    w.bytes(98, 'future'); // length-delimited
    w.bytes(1, Buffer.from('0000', 'hex'), true); // an empty header
    w.bool(3, true);
    const out = decodeRangeResponse(new ProtoReader(Buffer.concat([w.finish(), fixed64And32()])));
    expect(out.more).toBe(true);
    expect(out.kvs).toEqual([]);
  });

  it('refuses a truncated message instead of reading past it', () => {
    const bytes = Buffer.from(`${HEADER}12440a0e`, 'hex'); // a KeyValue that claims 0x44 bytes
    expect(() => decodeRangeResponse(new ProtoReader(bytes))).toThrow(/malformed protobuf from etcd/);
    expect(() => decodeLeaseGrantResponse(read('10ffff'))).toThrow(/truncated varint/);
  });
});

describe('varints', () => {
  it.each([0, 1, 127, 128, 300, 2 ** 31, 2 ** 32 - 1, 2 ** 32, 2 ** 53 - 1])('round-trips %d as a number', (n) => {
    const w = new ProtoWriter(1);
    w.varint(n);
    expect(new ProtoReader(w.finish()).varint()).toBe(n);
  });

  it.each([0n, 1n, 127n, 2n ** 28n - 1n, 2n ** 28n, 2n ** 35n + 5n, 2n ** 49n + 3n, 0x694d8a7b3c2e1f05n, 2n ** 63n, 2n ** 64n - 2n])(
    'round-trips %p as a 64-bit bigint (lease IDs)',
    (n) => {
      const w = new ProtoWriter();
      w.varint(n);
      w.varint(7);
      const r = new ProtoReader(w.finish());
      expect(r.varint64()).toBe(n);
      expect(r.varint()).toBe(7);
    },
  );

  it('reads 64-bit values exactly as bigints, and negative int64 (a TTL of -1) as numbers', () => {
    const w = new ProtoWriter();
    w.varint(2n ** 64n - 1n);
    w.varint(-1);
    const r = new ProtoReader(w.finish());
    expect(r.varint64()).toBe(2n ** 64n - 1n);
    expect(r.varint()).toBe(-1);
    // LeaseTimeToLiveResponse for a revoked lease: ID 5, TTL -1.
    const ttl = read(`${HEADER}100518ffffffffffffffffff01`);
    ttl.next();
    ttl.message();
    ttl.next();
    expect(ttl.varint()).toBe(5);
    ttl.next();
    expect(ttl.varint()).toBe(-1);
  });
});

describe('prefixEnd', () => {
  it('is the prefix with its last byte incremented, as etcd clients compute it', () => {
    expect(prefixEnd('/coreos.com/network/subnets/').toString()).toBe('/coreos.com/network/subnets0');
    expect([...prefixEnd('a\xff')]).toEqual([0x61, 0xc3, 0xc0]); // 'ÿ' is c3 bf in UTF-8
    expect([...prefixEnd('')]).toEqual([0]);
  });
});

/** A fixed64 field 97 and a fixed32 field 96 (two-byte tags). */
function fixed64And32(): Buffer {
  const w = new ProtoWriter();
  w.varint((97 << 3) | 1);
  const a = w.finish();
  const w2 = new ProtoWriter();
  w2.varint((96 << 3) | 5);
  return Buffer.concat([a, Buffer.alloc(8, 7), w2.finish(), Buffer.alloc(4, 9)]);
}
