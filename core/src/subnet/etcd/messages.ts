/**
 * The etcd v3 API messages flannel uses (etcdserverpb in etcd's rpc.proto, mvccpb in kv.proto), encoded
 * and decoded by hand. Field numbers are etcd's; a decoder skips fields it does not know. Keys and values
 * are strings (UTF-8): flannel's keys are ASCII paths and its values JSON.
 */
import { ProtoWriter, type ProtoReader } from './proto.js';

// Tags are (field number << 3) | wire type: 0 varint, 2 length-delimited.
const t = (field: number, wire: 0 | 2): number => (field << 3) | wire;

export interface ResponseHeader {
  /** uint64 as decimal text: compared, never computed with. */
  clusterId: string;
  memberId: string;
  revision: number;
  raftTerm: number;
}

export interface KeyValue {
  key: string;
  value: string;
  createRevision: number;
  modRevision: number;
  version: number;
  /** The etcd lease the key is attached to; 0n for none. */
  lease: bigint;
}

export interface RangeRequest {
  key: string;
  /** The end of the range, exclusive; prefixEnd(key) for every key under a prefix. */
  rangeEnd?: string | Uint8Array;
  limit?: number;
  revision?: number;
  serializable?: boolean;
  keysOnly?: boolean;
  countOnly?: boolean;
}

export interface RangeResponse {
  header: ResponseHeader;
  kvs: KeyValue[];
  more: boolean;
  count: number;
}

export interface PutRequest {
  key: string;
  value: string;
  /** 0n or absent: no lease (a reservation, for flannel). */
  lease?: bigint;
  prevKv?: boolean;
}

export interface PutResponse {
  header: ResponseHeader;
  prevKv?: KeyValue;
}

export interface DeleteRangeRequest {
  key: string;
  rangeEnd?: string | Uint8Array;
  prevKv?: boolean;
}

export interface DeleteRangeResponse {
  header: ResponseHeader;
  deleted: number;
  prevKvs: KeyValue[];
}

export type CompareTarget = 'version' | 'create' | 'mod' | 'value' | 'lease';
export type CompareResult = '==' | '>' | '<' | '!=';

export interface Compare {
  key: string;
  target: CompareTarget;
  result: CompareResult;
  /** A number (or bigint) for version/create/mod/lease, a string for value. */
  value: number | bigint | string;
}

export type RequestOp = { put: PutRequest } | { range: RangeRequest } | { deleteRange: DeleteRangeRequest };
export type ResponseOp = { range: RangeResponse } | { put: PutResponse } | { deleteRange: DeleteRangeResponse } | { txn: TxnResponse };

export interface TxnRequest {
  compare: Compare[];
  success: RequestOp[];
  failure?: RequestOp[];
}

export interface TxnResponse {
  header: ResponseHeader;
  succeeded: boolean;
  responses: ResponseOp[];
}

export interface LeaseGrantResponse {
  header: ResponseHeader;
  id: bigint;
  ttl: number;
  error: string;
}

export interface AuthenticateResponse {
  header: ResponseHeader;
  token: string;
}

export interface WatchCreateRequest {
  key: string;
  rangeEnd?: string | Uint8Array;
  /** The first revision to report; absent or 0 for "from now on". */
  startRevision?: number;
  progressNotify?: boolean;
  prevKv?: boolean;
}

export interface WatchEvent {
  type: 'put' | 'delete';
  kv: KeyValue;
  prevKv?: KeyValue;
}

export interface WatchResponse {
  header: ResponseHeader;
  watchId: number;
  created: boolean;
  canceled: boolean;
  /** Set on a watch canceled because its start revision was compacted: the oldest revision etcd still has. */
  compactRevision: number;
  cancelReason: string;
  fragment: boolean;
  events: WatchEvent[];
}

/** The range end that covers every key starting with `prefix` (etcd's GetPrefixRangeEnd), as bytes. */
export function prefixEnd(prefix: string): Buffer {
  const b = Buffer.from(prefix);
  for (let i = b.length - 1; i >= 0; i--) {
    if (b[i]! < 0xff) {
      b[i]! += 1;
      return b.subarray(0, i + 1);
    }
  }
  return Buffer.from([0]); // every key
}

// Encoders -------------------------------------------------------------------------------------------

export function encodeRangeRequest(r: RangeRequest, w = new ProtoWriter()): Buffer {
  w.bytes(1, r.key, true);
  w.bytes(2, r.rangeEnd);
  w.int(3, r.limit);
  w.int(4, r.revision);
  w.bool(7, r.serializable);
  w.bool(8, r.keysOnly);
  w.bool(9, r.countOnly);
  return w.finish();
}

export function encodePutRequest(r: PutRequest, w = new ProtoWriter(64 + r.value.length)): Buffer {
  w.bytes(1, r.key, true);
  w.bytes(2, r.value);
  w.int(3, r.lease);
  w.bool(4, r.prevKv);
  return w.finish();
}

export function encodeDeleteRangeRequest(r: DeleteRangeRequest, w = new ProtoWriter()): Buffer {
  w.bytes(1, r.key, true);
  w.bytes(2, r.rangeEnd);
  w.bool(3, r.prevKv);
  return w.finish();
}

const COMPARE_RESULT: Record<CompareResult, number> = { '==': 0, '>': 1, '<': 2, '!=': 3 };
const COMPARE_TARGET: Record<CompareTarget, number> = { version: 0, create: 1, mod: 2, value: 3, lease: 4 };
// The target_union oneof: version = 4, create_revision = 5, mod_revision = 6, value = 7, lease = 8.
const COMPARE_FIELD: Record<CompareTarget, number> = { version: 4, create: 5, mod: 6, value: 7, lease: 8 };

function encodeCompare(c: Compare, w: ProtoWriter): void {
  w.int(1, COMPARE_RESULT[c.result]);
  w.int(2, COMPARE_TARGET[c.target]);
  w.bytes(3, c.key, true);
  const field = COMPARE_FIELD[c.target];
  if (c.target === 'value') w.bytes(field, String(c.value), true);
  else w.intAlways(field, typeof c.value === 'string' ? BigInt(c.value) : c.value);
}

function encodeRequestOp(op: RequestOp, w: ProtoWriter): void {
  if ('range' in op) w.message(1, (m) => encodeRangeRequest(op.range, m));
  else if ('put' in op) w.message(2, (m) => encodePutRequest(op.put, m));
  else w.message(3, (m) => encodeDeleteRangeRequest(op.deleteRange, m));
}

export function encodeTxnRequest(r: TxnRequest): Buffer {
  const w = new ProtoWriter(256);
  for (const c of r.compare) w.message(1, (m) => encodeCompare(c, m));
  for (const op of r.success) w.message(2, (m) => encodeRequestOp(op, m));
  for (const op of r.failure ?? []) w.message(3, (m) => encodeRequestOp(op, m));
  return w.finish();
}

export function encodeLeaseGrantRequest(ttlSeconds: number, id: bigint = 0n): Buffer {
  const w = new ProtoWriter();
  w.int(1, ttlSeconds);
  w.int(2, id);
  return w.finish();
}

export function encodeLeaseRevokeRequest(id: bigint): Buffer {
  const w = new ProtoWriter();
  w.int(1, id);
  return w.finish();
}

export function encodeAuthenticateRequest(name: string, password: string): Buffer {
  const w = new ProtoWriter();
  w.bytes(1, name);
  w.bytes(2, password);
  return w.finish();
}

export function encodeWatchCreateRequest(r: WatchCreateRequest): Buffer {
  const w = new ProtoWriter();
  w.message(1, (c) => {
    c.bytes(1, r.key, true);
    c.bytes(2, r.rangeEnd);
    c.int(3, r.startRevision);
    c.bool(4, r.progressNotify);
    c.bool(6, r.prevKv);
  });
  return w.finish();
}

export function encodeWatchCancelRequest(watchId: number): Buffer {
  const w = new ProtoWriter();
  w.message(2, (c) => c.int(1, watchId));
  return w.finish();
}

// Decoders -------------------------------------------------------------------------------------------

function decodeHeader(r: ProtoReader): ResponseHeader {
  const h: ResponseHeader = { clusterId: '0', memberId: '0', revision: 0, raftTerm: 0 };
  for (let tag = r.next(); tag !== -1; tag = r.next()) {
    if (tag === t(1, 0)) h.clusterId = r.varint64().toString();
    else if (tag === t(2, 0)) h.memberId = r.varint64().toString();
    else if (tag === t(3, 0)) h.revision = r.varint();
    else if (tag === t(4, 0)) h.raftTerm = r.varint();
    else r.skip(tag);
  }
  return h;
}

const EMPTY_HEADER: ResponseHeader = Object.freeze({ clusterId: '0', memberId: '0', revision: 0, raftTerm: 0 });

export function decodeKeyValue(r: ProtoReader): KeyValue {
  const kv: KeyValue = { key: '', value: '', createRevision: 0, modRevision: 0, version: 0, lease: 0n };
  for (let tag = r.next(); tag !== -1; tag = r.next()) {
    if (tag === t(1, 2)) kv.key = r.string();
    else if (tag === t(2, 0)) kv.createRevision = r.varint();
    else if (tag === t(3, 0)) kv.modRevision = r.varint();
    else if (tag === t(4, 0)) kv.version = r.varint();
    else if (tag === t(5, 2)) kv.value = r.string();
    else if (tag === t(6, 0)) kv.lease = r.varint64();
    else r.skip(tag);
  }
  return kv;
}

export function decodeRangeResponse(r: ProtoReader): RangeResponse {
  const res: RangeResponse = { header: EMPTY_HEADER, kvs: [], more: false, count: 0 };
  for (let tag = r.next(); tag !== -1; tag = r.next()) {
    if (tag === t(1, 2)) res.header = decodeHeader(r.message());
    else if (tag === t(2, 2)) res.kvs.push(decodeKeyValue(r.message()));
    else if (tag === t(3, 0)) res.more = r.bool();
    else if (tag === t(4, 0)) res.count = r.varint();
    else r.skip(tag);
  }
  return res;
}

export function decodePutResponse(r: ProtoReader): PutResponse {
  const res: PutResponse = { header: EMPTY_HEADER };
  for (let tag = r.next(); tag !== -1; tag = r.next()) {
    if (tag === t(1, 2)) res.header = decodeHeader(r.message());
    else if (tag === t(2, 2)) res.prevKv = decodeKeyValue(r.message());
    else r.skip(tag);
  }
  return res;
}

export function decodeDeleteRangeResponse(r: ProtoReader): DeleteRangeResponse {
  const res: DeleteRangeResponse = { header: EMPTY_HEADER, deleted: 0, prevKvs: [] };
  for (let tag = r.next(); tag !== -1; tag = r.next()) {
    if (tag === t(1, 2)) res.header = decodeHeader(r.message());
    else if (tag === t(2, 0)) res.deleted = r.varint();
    else if (tag === t(3, 2)) res.prevKvs.push(decodeKeyValue(r.message()));
    else r.skip(tag);
  }
  return res;
}

function decodeResponseOp(r: ProtoReader): ResponseOp | undefined {
  let op: ResponseOp | undefined;
  for (let tag = r.next(); tag !== -1; tag = r.next()) {
    if (tag === t(1, 2)) op = { range: decodeRangeResponse(r.message()) };
    else if (tag === t(2, 2)) op = { put: decodePutResponse(r.message()) };
    else if (tag === t(3, 2)) op = { deleteRange: decodeDeleteRangeResponse(r.message()) };
    else if (tag === t(4, 2)) op = { txn: decodeTxnResponse(r.message()) };
    else r.skip(tag);
  }
  return op;
}

export function decodeTxnResponse(r: ProtoReader): TxnResponse {
  const res: TxnResponse = { header: EMPTY_HEADER, succeeded: false, responses: [] };
  for (let tag = r.next(); tag !== -1; tag = r.next()) {
    if (tag === t(1, 2)) res.header = decodeHeader(r.message());
    else if (tag === t(2, 0)) res.succeeded = r.bool();
    else if (tag === t(3, 2)) {
      const op = decodeResponseOp(r.message());
      if (op) res.responses.push(op);
    } else r.skip(tag);
  }
  return res;
}

export function decodeLeaseGrantResponse(r: ProtoReader): LeaseGrantResponse {
  const res: LeaseGrantResponse = { header: EMPTY_HEADER, id: 0n, ttl: 0, error: '' };
  for (let tag = r.next(); tag !== -1; tag = r.next()) {
    if (tag === t(1, 2)) res.header = decodeHeader(r.message());
    else if (tag === t(2, 0)) res.id = r.varint64();
    else if (tag === t(3, 0)) res.ttl = r.varint();
    else if (tag === t(4, 2)) res.error = r.string();
    else r.skip(tag);
  }
  return res;
}

/** LeaseRevokeResponse, and any response of which only the header matters. */
export function decodeHeaderOnly(r: ProtoReader): { header: ResponseHeader } {
  let header = EMPTY_HEADER;
  for (let tag = r.next(); tag !== -1; tag = r.next()) {
    if (tag === t(1, 2)) header = decodeHeader(r.message());
    else r.skip(tag);
  }
  return { header };
}

export function decodeAuthenticateResponse(r: ProtoReader): AuthenticateResponse {
  const res: AuthenticateResponse = { header: EMPTY_HEADER, token: '' };
  for (let tag = r.next(); tag !== -1; tag = r.next()) {
    if (tag === t(1, 2)) res.header = decodeHeader(r.message());
    else if (tag === t(2, 2)) res.token = r.string();
    else r.skip(tag);
  }
  return res;
}

function decodeEvent(r: ProtoReader): WatchEvent {
  let type: WatchEvent['type'] = 'put';
  let kv: KeyValue | undefined;
  let prevKv: KeyValue | undefined;
  for (let tag = r.next(); tag !== -1; tag = r.next()) {
    if (tag === t(1, 0)) type = r.varint() === 1 ? 'delete' : 'put';
    else if (tag === t(2, 2)) kv = decodeKeyValue(r.message());
    else if (tag === t(3, 2)) prevKv = decodeKeyValue(r.message());
    else r.skip(tag);
  }
  const ev: WatchEvent = { type, kv: kv ?? { key: '', value: '', createRevision: 0, modRevision: 0, version: 0, lease: 0n } };
  if (prevKv) ev.prevKv = prevKv;
  return ev;
}

export function decodeWatchResponse(r: ProtoReader): WatchResponse {
  const res: WatchResponse = {
    header: EMPTY_HEADER,
    watchId: 0,
    created: false,
    canceled: false,
    compactRevision: 0,
    cancelReason: '',
    fragment: false,
    events: [],
  };
  for (let tag = r.next(); tag !== -1; tag = r.next()) {
    if (tag === t(1, 2)) res.header = decodeHeader(r.message());
    else if (tag === t(2, 0)) res.watchId = r.varint();
    else if (tag === t(3, 0)) res.created = r.bool();
    else if (tag === t(4, 0)) res.canceled = r.bool();
    else if (tag === t(5, 0)) res.compactRevision = r.varint();
    else if (tag === t(6, 2)) res.cancelReason = r.string();
    else if (tag === t(7, 0)) res.fragment = r.bool();
    else if (tag === t(11, 2)) res.events.push(decodeEvent(r.message()));
    else r.skip(tag);
  }
  return res;
}
