/**
 * gRPC over node:http2, as much of it as etcd's v3 API needs: unary calls and one bidirectional stream
 * (Watch), each message in gRPC's 5-byte length-prefixed framing, the status in the trailers. No
 * compression, no message size cap (etcd caps what it accepts with --max-request-bytes).
 */
import * as http2 from 'node:http2';
import type { SecureContextOptions } from 'node:tls';
import { MessagePacer } from './message-pacer.js';

/** gRPC status codes (the ones etcd answers with, and the transport's). */
export const Status = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  OUT_OF_RANGE: 11,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  UNAUTHENTICATED: 16,
} as const;
const STATUS_NAMES = new Map<number, string>(Object.entries(Status).map(([name, code]) => [code, name]));

/**
 * A failed call. `sent` is false when the request surely never reached etcd (no connection, or a stream
 * etcd refused unprocessed): only then may a write be tried again elsewhere.
 */
export class GrpcError extends Error {
  override readonly name = 'GrpcError';
  constructor(
    readonly code: number,
    readonly details: string,
    readonly endpoint: string,
    readonly sent: boolean,
  ) {
    super(`${STATUS_NAMES.get(code) ?? `status ${code}`}: ${details} (etcd at ${endpoint})`);
  }
}

/** Wraps one message in gRPC's framing: a zero compression flag and a big-endian 32-bit length. */
export function frame(message: Buffer): Buffer {
  const out = Buffer.allocUnsafe(5 + message.length);
  out[0] = 0;
  out.writeUInt32BE(message.length, 1);
  message.copy(out, 5);
  return out;
}

/** Cuts a byte stream into gRPC messages, however the chunks fall. */
export class FrameParser {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private need = -1;

  push(chunk: Buffer, onMessage: (message: Buffer) => void): void {
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    for (;;) {
      if (this.need < 0) {
        if (this.buffered < 5) return;
        const head = this.take(5);
        if (head[0] !== 0) throw new Error(`etcd sent a compressed gRPC message (flag ${head[0]}), which was not asked for`);
        this.need = head.readUInt32BE(1);
      }
      if (this.buffered < this.need) return;
      const message = this.take(this.need);
      this.need = -1;
      onMessage(message);
    }
  }

  private take(n: number): Buffer {
    this.buffered -= n;
    const first = this.chunks[0];
    if (first && first.length >= n) {
      if (first.length === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
      return first.subarray(0, n);
    }
    const out = Buffer.allocUnsafe(n);
    let at = 0;
    while (at < n) {
      const c = this.chunks[0]!;
      const part = Math.min(c.length, n - at);
      c.copy(out, at, 0, part);
      at += part;
      if (part === c.length) this.chunks.shift();
      else this.chunks[0] = c.subarray(part);
    }
    return out;
  }
}

/** grpc-message is percent-encoded. */
export function decodeGrpcMessage(text: string | string[] | undefined): string {
  const s = Array.isArray(text) ? text.join(', ') : (text ?? '');
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** Response headers or trailers as node:http2 gives them (`:status` is a number). */
type Headers = Record<string, string | string[] | number | undefined>;

/** What a call's headers, trailers and stream state say about its outcome; undefined for OK. */
export function callOutcome(
  endpoint: string,
  headers: Headers | undefined,
  trailers: Headers | undefined,
  streamError: Error | undefined,
  rstCode: number | undefined,
): GrpcError | undefined {
  const status = trailers?.['grpc-status'] ?? headers?.['grpc-status'];
  if (status !== undefined) {
    const code = Number(status);
    if (code === Status.OK) return undefined;
    const message = trailers?.['grpc-message'] ?? headers?.['grpc-message'];
    return new GrpcError(code, decodeGrpcMessage(typeof message === 'number' ? String(message) : message) || 'no message', endpoint, true);
  }
  const http = headers?.[':status'] === undefined ? undefined : Number(headers[':status']);
  if (http !== undefined && http !== 200) {
    const code =
      http === 401
        ? Status.UNAUTHENTICATED
        : http === 403
          ? Status.PERMISSION_DENIED
          : [429, 502, 503, 504].includes(http)
            ? Status.UNAVAILABLE
            : Status.UNKNOWN;
    return new GrpcError(code, `HTTP status ${http} without a gRPC status`, endpoint, true);
  }
  // A stream etcd refused (REFUSED_STREAM, or beyond a GOAWAY's last stream) was never processed.
  const refused = rstCode === http2.constants.NGHTTP2_REFUSED_STREAM;
  const why = streamError?.message ?? (rstCode ? `stream reset (HTTP/2 error ${rstCode})` : 'stream ended without a gRPC status');
  return new GrpcError(Status.UNAVAILABLE, `connection lost: ${why}`, endpoint, !refused);
}

export interface ChannelOptions {
  /** http://host:port or https://host:port. */
  endpoint: string;
  /** TLS: with it the connection is https whatever the endpoint's scheme says. */
  tls?: Pick<SecureContextOptions, 'ca' | 'cert' | 'key'>;
  dialTimeoutMs: number;
  /** While a stream is open, a ping this often; no answer within as long again closes the connection. 0: none. */
  keepaliveMs: number;
}

export interface StreamHandlers {
  /** Each message, in order; a burst a turn of the event loop at a time (see MessagePacer). */
  onMessage(message: Buffer): void;
  /** Once, when the stream is over: with the error unless etcd ended it with status OK. */
  onClose(err: GrpcError | undefined): void;
}

export interface StreamCall {
  write(message: Buffer): void;
  close(): void;
}

/** Stream and connection-level receive windows: large, so a big listing is not throttled by window updates. */
const STREAM_WINDOW = 16 << 20;
const SESSION_WINDOW = 32 << 20;

/** One etcd endpoint: a lazily (re)opened HTTP/2 connection, shared by every call to it. */
export class Channel {
  /** etcd's auth token for this endpoint (a simple token is known only to the member that issued it). */
  token: Promise<string> | undefined;
  private session: http2.ClientHttp2Session | undefined;
  private dialing: Promise<http2.ClientHttp2Session> | undefined;
  private openStreams = 0;
  private keepalive: NodeJS.Timeout | undefined;
  private readonly origin: string;
  private closed = false;
  private pingMs: number;

  constructor(private readonly o: ChannelOptions) {
    this.pingMs = o.keepaliveMs;
    const url = new URL(o.endpoint);
    this.origin = `${o.tls || url.protocol === 'https:' ? 'https' : 'http'}://${url.host}`;
  }

  get endpoint(): string {
    return this.o.endpoint;
  }

  /** A unary call: one request message, one reply message. */
  async unary(path: string, body: Buffer, metadata: Record<string, string>, signal?: AbortSignal): Promise<Buffer> {
    const session = await this.connect(signal);
    return new Promise<Buffer>((resolve, reject) => {
      let req: http2.ClientHttp2Stream;
      try {
        req = session.request(requestHeaders(path, metadata));
      } catch (err) {
        this.forget(session);
        reject(new GrpcError(Status.UNAVAILABLE, `connection lost: ${(err as Error).message}`, this.endpoint, false));
        return;
      }
      const parser = new FrameParser();
      const replies: Buffer[] = [];
      let headers: http2.IncomingHttpHeaders | undefined;
      let trailers: http2.IncomingHttpHeaders | undefined;
      let failure: Error | undefined;
      const onAbort = (): void => void req.close(http2.constants.NGHTTP2_CANCEL);
      signal?.addEventListener('abort', onAbort, { once: true });
      req.on('response', (h) => (headers = h));
      req.on('trailers', (h) => (trailers = h));
      req.on('data', (chunk: Buffer) => {
        try {
          parser.push(chunk, (m) => replies.push(m));
        } catch (err) {
          failure = err as Error;
          req.close(http2.constants.NGHTTP2_CANCEL);
        }
      });
      req.on('error', (err) => (failure ??= err));
      req.on('close', () => {
        signal?.removeEventListener('abort', onAbort);
        if (signal?.aborted) return reject(signal.reason as Error);
        const err = callOutcome(this.endpoint, headers, trailers, failure, req.rstCode);
        if (err) return reject(err);
        if (replies.length !== 1) return reject(new GrpcError(Status.INTERNAL, `expected one reply, got ${replies.length}`, this.endpoint, true));
        resolve(replies[0]!);
      });
      req.end(frame(body));
    });
  }

  /** A bidirectional stream (etcd's Watch); the connection is pinged while it is open. */
  async stream(path: string, metadata: Record<string, string>, h: StreamHandlers): Promise<StreamCall> {
    const session = await this.connect();
    let req: http2.ClientHttp2Stream;
    try {
      req = session.request(requestHeaders(path, metadata));
    } catch (err) {
      this.forget(session);
      throw new GrpcError(Status.UNAVAILABLE, `connection lost: ${(err as Error).message}`, this.endpoint, false);
    }
    this.openStreams++;
    this.startKeepalive();
    const parser = new FrameParser();
    let headers: http2.IncomingHttpHeaders | undefined;
    let trailers: http2.IncomingHttpHeaders | undefined;
    let failure: Error | undefined;
    let closedByUs = false;
    req.on('response', (hs) => (headers = hs));
    req.on('trailers', (hs) => (trailers = hs));
    const fail = (err: Error): void => {
      failure = err;
      req.close(http2.constants.NGHTTP2_CANCEL);
    };
    const pacer = new MessagePacer((m) => h.onMessage(m), { pause: () => req.pause(), resume: () => req.resume(), failed: fail });
    req.on('data', (chunk: Buffer) => {
      try {
        parser.push(chunk, (m) => pacer.push(m));
      } catch (err) {
        pacer.stop();
        fail(err as Error);
      }
    });
    req.on('error', (err) => (failure ??= err));
    req.on('close', () => {
      this.openStreams--;
      if (closedByUs) return;
      // After the messages that came before the end: a watch resumes from the last one handed on.
      pacer.afterDrained(() => {
        if (!closedByUs) h.onClose(callOutcome(this.endpoint, headers, trailers, failure, req.rstCode));
      });
    });
    return {
      write: (message) => void req.write(frame(message)),
      close: () => {
        if (closedByUs) return;
        closedByUs = true;
        pacer.stop();
        req.close(http2.constants.NGHTTP2_CANCEL);
      },
    };
  }

  /** Drops the connection: calls on it fail, and the next call opens a new one. */
  reset(): void {
    const s = this.session;
    this.session = undefined;
    s?.destroy();
  }

  close(): void {
    this.closed = true;
    if (this.keepalive) clearInterval(this.keepalive);
    this.keepalive = undefined;
    this.reset();
  }

  private connect(signal?: AbortSignal): Promise<http2.ClientHttp2Session> {
    const s = this.session;
    if (s && !s.closed && !s.destroyed) return Promise.resolve(s);
    if (this.closed) return Promise.reject(new GrpcError(Status.CANCELLED, 'the etcd client is closed', this.endpoint, false));
    this.dialing ??= this.dial().finally(() => (this.dialing = undefined));
    if (!signal) return this.dialing;
    if (signal.aborted) return Promise.reject(signal.reason as Error);
    return new Promise((resolve, reject) => {
      const onAbort = (): void => reject(signal.reason as Error);
      signal.addEventListener('abort', onAbort, { once: true });
      this.dialing!.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
    });
  }

  private dial(): Promise<http2.ClientHttp2Session> {
    return new Promise((resolve, reject) => {
      const session = http2.connect(this.origin, {
        ...(this.origin.startsWith('https:') ? { ...this.o.tls, ALPNProtocols: ['h2'] } : {}),
        settings: { enablePush: false, initialWindowSize: STREAM_WINDOW },
        // nghttp2's budget for data buffered in the session (MB); a large listing must not exceed it.
        maxSessionMemory: 256,
      });
      const fail = (why: string): void => {
        clearTimeout(timer);
        session.destroy();
        reject(new GrpcError(Status.UNAVAILABLE, why, this.endpoint, false));
      };
      const timer = setTimeout(() => fail(`no connection within ${this.o.dialTimeoutMs} ms`), this.o.dialTimeoutMs);
      const onError = (err: Error): void => fail(err.message);
      session.once('error', onError);
      session.once('connect', () => {
        clearTimeout(timer);
        session.off('error', onError);
        if (this.closed) {
          session.destroy();
          reject(new GrpcError(Status.CANCELLED, 'the etcd client is closed', this.endpoint, false));
          return;
        }
        // Errors reach the calls through their streams; the session's own are not thrown.
        session.on('error', () => undefined);
        session.on('goaway', (code: number, _lastStreamID: number, data?: Buffer) => {
          // etcd (--grpc-keepalive-min-time) finds our pings too frequent: ping half as often, as gRPC clients do.
          if (code === http2.constants.NGHTTP2_ENHANCE_YOUR_CALM && data?.toString() === 'too_many_pings') this.slowDownPings();
          this.forget(session);
        });
        session.on('close', () => this.forget(session));
        try {
          session.setLocalWindowSize(SESSION_WINDOW);
        } catch {
          // an older peer's limit: the default window works, only slower
        }
        this.session = session;
        resolve(session);
      });
    });
  }

  /** New calls open another connection; calls still on this one finish there. */
  private forget(session: http2.ClientHttp2Session): void {
    if (this.session === session) this.session = undefined;
  }

  private slowDownPings(): void {
    this.pingMs *= 2;
    if (this.keepalive) clearInterval(this.keepalive);
    this.keepalive = undefined;
    if (this.openStreams > 0) this.startKeepalive();
  }

  private startKeepalive(): void {
    if (this.keepalive || !this.pingMs) return;
    this.keepalive = setInterval(() => {
      const s = this.session;
      if (this.openStreams === 0) {
        clearInterval(this.keepalive);
        this.keepalive = undefined;
        return;
      }
      if (!s || s.destroyed) return;
      const deadline = setTimeout(() => {
        // A connection that does not answer a ping is dead (a partition, a host gone): its streams fail and reconnect.
        s.destroy(new Error(`no answer to a keepalive ping within ${this.pingMs} ms`));
      }, this.pingMs);
      deadline.unref();
      try {
        s.ping((err) => {
          clearTimeout(deadline);
          if (err && !s.destroyed) s.destroy(err);
        });
      } catch {
        clearTimeout(deadline);
      }
    }, this.pingMs);
    this.keepalive.unref();
  }
}

function requestHeaders(path: string, metadata: Record<string, string>): http2.OutgoingHttpHeaders {
  return {
    ':method': 'POST',
    ':path': path,
    'content-type': 'application/grpc',
    te: 'trailers',
    'user-agent': 'flannel-ts',
    ...metadata,
  };
}
