/**
 * A small etcd v3 client: KV (Range, Put, DeleteRange, Txn), Lease (Grant, Revoke), Watch and Auth
 * (Authenticate) over gRPC on node:http2, with our own protobuf code. What flannel needs and no more,
 * without the etcd3 package's gRPC and protobuf libraries.
 *
 * - Several endpoints: a call goes to the current one; one that cannot be reached (or answers UNAVAILABLE
 *   to a read) moves the client to the next and the call is tried there, as Go's clientv3 does: reads
 *   whenever they failed, writes only when they surely never reached etcd.
 * - Auth: with a user, a token from Authenticate is sent with every call, per endpoint (etcd's simple
 *   tokens are known only to the member that issued them), and fetched again when etcd says it expired.
 * - TLS with a client certificate when given (see etcd-options.ts).
 * - A watch reconnects by itself (100 ms doubling to 5 s, moving through the endpoints) and resumes after
 *   the last revision it reported; it asks etcd to end it when the member loses its leader.
 */
import { Backoff } from '../../util/retry.js';
import { Channel, GrpcError, Status, type StreamCall } from './grpc.js';
import {
  decodeAuthenticateResponse,
  decodeDeleteRangeResponse,
  decodeHeaderOnly,
  decodeLeaseGrantResponse,
  decodePutResponse,
  decodeRangeResponse,
  decodeTxnResponse,
  decodeWatchResponse,
  encodeAuthenticateRequest,
  encodeDeleteRangeRequest,
  encodeLeaseGrantRequest,
  encodeLeaseRevokeRequest,
  encodePutRequest,
  encodeRangeRequest,
  encodeTxnRequest,
  encodeWatchCreateRequest,
  type DeleteRangeRequest,
  type DeleteRangeResponse,
  type LeaseGrantResponse,
  type PutRequest,
  type PutResponse,
  type RangeRequest,
  type RangeResponse,
  type ResponseHeader,
  type TxnRequest,
  type TxnResponse,
  type WatchCreateRequest,
  type WatchResponse,
} from './messages.js';
import { ProtoReader } from './proto.js';

export { GrpcError } from './grpc.js';

/** How to reach etcd: the --etcd-* flags, checked (see etcdClientOptions). */
export interface EtcdClientOptions {
  /** Endpoint URLs, http:// or https://. */
  hosts: string[];
  /** Milliseconds to open a connection (5 s by default, as Go flannel). */
  dialTimeout?: number;
  /** PEM: with privateKey and certChain the connection is TLS with that client certificate. */
  credentials?: { rootCertificate?: Buffer; privateKey?: Buffer; certChain?: Buffer };
  auth?: { username: string; password: string };
  /** HTTP/2 ping period while a watch is open (a dead connection is noticed within twice this); 0: none. 10 s by default. */
  keepaliveMs?: number;
}

export interface WatchHandlers {
  /** etcd acknowledged the watch (after each reconnect too). */
  onCreated(res: WatchResponse): void;
  /** Events, in revision order. */
  onResponse(res: WatchResponse): void;
  /** etcd ended the watch (its start revision was compacted, or it is not allowed): it will not resume. */
  onCanceled(res: WatchResponse): void;
  /** The stream broke; the watch reconnects by itself. */
  onDisconnected(err: Error): void;
}

export interface Watch {
  /** Ends the watch; no handler is called after it. */
  close(): void;
}

const KV = '/etcdserverpb.KV/';
const LEASE = '/etcdserverpb.Lease/';
const WATCH = '/etcdserverpb.Watch/Watch';
const AUTHENTICATE = '/etcdserverpb.Auth/Authenticate';

/** Go's clientv3: a read can be retried on UNAVAILABLE; a write only if it never left (no connection). */
type Retry = 'read' | 'write';

export class EtcdClient {
  private readonly channels: Channel[];
  private current = 0;
  private readonly watches = new Set<Watch>();

  constructor(private readonly options: EtcdClientOptions) {
    if (options.hosts.length === 0) throw new Error('no etcd endpoint given');
    const creds = options.credentials;
    const tls =
      creds?.privateKey && creds.certChain
        ? { key: creds.privateKey, cert: creds.certChain, ...(creds.rootCertificate ? { ca: creds.rootCertificate } : {}) }
        : creds?.rootCertificate
          ? { ca: creds.rootCertificate }
          : undefined;
    this.channels = options.hosts.map(
      (endpoint) =>
        new Channel({
          endpoint,
          ...(tls && (creds?.privateKey || endpoint.startsWith('https:')) ? { tls } : {}),
          dialTimeoutMs: options.dialTimeout ?? 5000,
          keepaliveMs: options.keepaliveMs ?? 10_000,
        }),
    );
  }

  /** The endpoint calls go to now. */
  get endpoint(): string {
    return this.channels[this.current]!.endpoint;
  }

  range(r: RangeRequest, signal?: AbortSignal): Promise<RangeResponse> {
    return this.call(`${KV}Range`, encodeRangeRequest(r), decodeRangeResponse, 'read', signal);
  }

  put(r: PutRequest, signal?: AbortSignal): Promise<PutResponse> {
    return this.call(`${KV}Put`, encodePutRequest(r), decodePutResponse, 'write', signal);
  }

  deleteRange(r: DeleteRangeRequest, signal?: AbortSignal): Promise<DeleteRangeResponse> {
    return this.call(`${KV}DeleteRange`, encodeDeleteRangeRequest(r), decodeDeleteRangeResponse, 'write', signal);
  }

  txn(r: TxnRequest, signal?: AbortSignal): Promise<TxnResponse> {
    return this.call(`${KV}Txn`, encodeTxnRequest(r), decodeTxnResponse, 'write', signal);
  }

  /** A new etcd lease of `ttlSeconds` (etcd picks the ID). Safe to repeat, as in Go: an extra lease only expires. */
  leaseGrant(ttlSeconds: number, signal?: AbortSignal): Promise<LeaseGrantResponse> {
    return this.call(`${LEASE}LeaseGrant`, encodeLeaseGrantRequest(ttlSeconds), decodeLeaseGrantResponse, 'read', signal);
  }

  /** Revokes a lease, deleting the keys attached to it. */
  leaseRevoke(id: bigint, signal?: AbortSignal): Promise<{ header: ResponseHeader }> {
    return this.call(`${LEASE}LeaseRevoke`, encodeLeaseRevokeRequest(id), decodeHeaderOnly, 'read', signal);
  }

  /**
   * Watches `r.key` (to `r.rangeEnd`) from `r.startRevision`. Reconnects by itself and resumes after the
   * last event it reported; only a cancel by etcd, or close(), ends it.
   */
  watch(r: WatchCreateRequest, h: WatchHandlers): Watch {
    let nextRevision = r.startRevision ?? 0;
    let call: StreamCall | undefined;
    let timer: NodeJS.Timeout | undefined;
    let over = false;
    const backoff = new Backoff({ initialMs: 100, maxMs: 5000 });
    const watch: Watch = {
      close: () => {
        over = true;
        if (timer) clearTimeout(timer);
        call?.close();
        this.watches.delete(watch);
      },
    };
    this.watches.add(watch);

    const retryLater = (channel: Channel, err: Error): void => {
      if (over) return;
      call = undefined;
      this.moveOn(channel);
      h.onDisconnected(err);
      timer = setTimeout(() => void connect(), backoff.next());
    };

    const connect = async (): Promise<void> => {
      if (over) return;
      const channel = this.channels[this.current]!;
      let freshToken = false;
      let thisCall: StreamCall | undefined;
      try {
        freshToken = channel.token === undefined;
        const token = this.options.auth ? await this.token(channel) : undefined;
        thisCall = await channel.stream(
          WATCH,
          // hasleader: etcd ends the watch when this member loses its leader (a partition), so that we move on.
          { ...(token ? { token } : {}), hasleader: 'true' },
          {
            onMessage: (message) => {
              if (over || call !== thisCall) return;
              const res = decodeWatchResponse(new ProtoReader(message));
              if (res.canceled) {
                // An expired token makes etcd refuse the watch as "permission denied": authenticate again and retry, once.
                if (this.options.auth && !freshToken && /permission denied|invalid auth token/i.test(res.cancelReason)) {
                  channel.token = undefined;
                  thisCall!.close();
                  retryLater(channel, new Error(`etcd refused the watch (${res.cancelReason}); authenticating again`));
                  return;
                }
                over = true;
                thisCall!.close();
                this.watches.delete(watch);
                h.onCanceled(res);
                return;
              }
              if (res.created) {
                backoff.reset();
                if (nextRevision === 0) nextRevision = res.header.revision + 1;
                h.onCreated(res);
                return;
              }
              const last = res.events[res.events.length - 1];
              // Resume after the last event seen: a response's header revision can run ahead of its events.
              if (last) nextRevision = Math.max(nextRevision, last.kv.modRevision + 1);
              h.onResponse(res);
            },
            onClose: (err) => {
              if (over || call !== thisCall) return;
              retryLater(channel, err ?? new Error('etcd ended the watch stream'));
            },
          },
        );
      } catch (err) {
        retryLater(channel, err as Error);
        return;
      }
      if (over) {
        thisCall.close();
        return;
      }
      call = thisCall;
      thisCall.write(encodeWatchCreateRequest({ ...r, startRevision: nextRevision }));
    };

    void connect();
    return watch;
  }

  close(): void {
    for (const w of [...this.watches]) w.close();
    for (const c of this.channels) c.close();
  }

  private async call<T>(path: string, body: Buffer, decode: (r: ProtoReader) => T, retry: Retry, signal?: AbortSignal): Promise<T> {
    const attempts = Math.max(2, this.channels.length);
    let refreshed = false;
    let lastErr: unknown;
    for (let attempt = 0; attempt < attempts; attempt++) {
      const channel = this.channels[this.current]!;
      try {
        const token = this.options.auth ? await this.token(channel, signal) : undefined;
        const reply = await channel.unary(path, body, token ? { token } : {}, signal);
        return decode(new ProtoReader(reply));
      } catch (err) {
        if (signal?.aborted) throw err;
        if (!(err instanceof GrpcError)) throw err;
        if (this.options.auth && !refreshed && needsNewToken(err)) {
          // etcd forgot the token (it expired, or the member restarted): authenticate again and repeat the call.
          refreshed = true;
          channel.token = undefined;
          attempt--;
          continue;
        }
        const again = !err.sent || (retry === 'read' && err.code === Status.UNAVAILABLE);
        if (!again) throw err;
        lastErr = err;
        this.moveOn(channel);
        // Around the whole list once: give the cluster a moment before trying again.
        if (attempt + 1 < attempts && (attempt + 1) % this.channels.length === 0) await pause(100, signal);
      }
    }
    throw lastErr;
  }

  /** The token for `channel`, authenticating once for concurrent callers; "" when etcd has auth off. */
  private token(channel: Channel, signal?: AbortSignal): Promise<string> {
    if (!channel.token) {
      const { username, password } = this.options.auth!;
      const pending = channel
        .unary(AUTHENTICATE, encodeAuthenticateRequest(username, password), {})
        .then((reply) => decodeAuthenticateResponse(new ProtoReader(reply)).token)
        .catch((err: unknown) => {
          // Go's clientv3 goes on without a token when etcd has auth turned off.
          if (err instanceof GrpcError && /authentication is not enabled/.test(err.details)) return '';
          if (channel.token === pending) channel.token = undefined;
          throw err;
        });
      channel.token = pending;
    }
    const token = channel.token;
    if (!signal) return token;
    return new Promise((resolve, reject) => {
      if (signal.aborted) return reject(signal.reason as Error);
      const onAbort = (): void => reject(signal.reason as Error);
      signal.addEventListener('abort', onAbort, { once: true });
      token.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
    });
  }

  /** After a failure on `channel`, calls go to the next endpoint (unless another call moved on already). */
  private moveOn(channel: Channel): void {
    if (this.channels.length > 1 && this.channels[this.current] === channel) this.current = (this.current + 1) % this.channels.length;
  }
}

/** etcd's answers that mean "authenticate again": an expired or unknown token, an auth store that moved on, no token at all. */
function needsNewToken(err: GrpcError): boolean {
  return /invalid auth token|revision of auth store is old|user name is empty/.test(err.details);
}

function pause(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason as Error);
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal!.reason as Error);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
