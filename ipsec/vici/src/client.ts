// A VICI client over charon's Unix socket. Answers carry no request id, so one command (or event
// registration) is on the wire at a time and the rest wait in a queue; events may arrive at any time,
// between a request and its answer too, and are dispatched by name.
import { createConnection, type Socket } from 'node:net';
import { MalformedVici, UnencodableVici, ViciError, redact } from './errors.js';
import { decodeMessage, encodeMessage, type ViciSection } from './message.js';
import { decodePacket, encodePacket, SegmentReader, type Packet } from './packet.js';
import { PACKET_TYPE_NAMES, PacketType } from './protocol.js';

export interface ViciConnectOptions {
  /** How long to wait for the socket to open, and for each answer once its request is sent. Default 10 s. */
  timeoutMs?: number;
}

export interface ViciRequestOptions {
  /** How long to wait for this answer once the request is sent (default: the client's `timeoutMs`). */
  timeoutMs?: number;
  /** Values that must never appear in an error (a PSK): replaced by `(redacted)` in charon's `errmsg`. */
  secrets?: readonly string[];
}

type EventHandler = (section: ViciSection) => void;

/** One exchange on the wire: a command and its answer, or an event (un)registration and its confirmation. */
interface Exchange {
  /** For errors: the command, or `register <event>` / `unregister <event>`. */
  label: string;
  packet: Buffer;
  answers: 'command' | 'registration';
  timeoutMs: number;
  secrets: readonly string[];
  /** The event streamed during this command, and who gets it (streamedRequest). */
  stream?: { event: string; onEvent: EventHandler; error?: unknown };
  resolve(answer: ViciSection): void;
  /** A ViciError, or what a streamed request's onEvent threw. */
  reject(err: unknown): void;
}

const DEFAULT_TIMEOUT_MS = 10_000;

export class ViciClient {
  /** Resolves when the connection has ended, for whatever reason (see `closeError`). Never rejects. */
  readonly closed: Promise<void>;
  private resolveClosed!: () => void;
  private closeReason: ViciError | undefined;
  private isClosed = false;

  private readonly reader = new SegmentReader();
  private readonly queue: Exchange[] = [];
  private active: { exchange: Exchange; timer: NodeJS.Timeout | undefined } | undefined;
  private readonly subscribers = new Map<string, Set<EventHandler>>();
  /** Event registrations on the wire, shared by subscribers and streamed requests: registered once, unregistered by the last. */
  private readonly registrations = new Map<string, { holders: number; registered: Promise<void> }>();

  private constructor(
    private readonly socket: Socket,
    private readonly socketPath: string,
    private readonly timeoutMs: number,
  ) {
    this.closed = new Promise((resolve) => (this.resolveClosed = resolve));
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (err: NodeJS.ErrnoException) => {
      this.shutdown(this.ending('closed', `the vici socket ${socketPath} failed: ${err.code ?? err.message}`, err));
    });
    socket.on('close', () => {
      this.shutdown(this.ending('closed', `charon closed the vici socket ${socketPath} (did charon stop?)`));
    });
  }

  /** Opens charon's VICI socket (`charon.plugins.vici.socket`, by default /var/run/charon.vici). */
  static connect(socketPath: string, opts: ViciConnectOptions = {}): Promise<ViciClient> {
    const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    return new Promise((resolve, reject) => {
      const socket = createConnection({ path: socketPath });
      const fail = (why: string, cause?: unknown): void => {
        clearTimeout(timer);
        socket.destroy();
        reject(new ViciError('connect', 'connect', `cannot connect to charon's vici socket ${socketPath}: ${why}`, { cause }));
      };
      const timer = setTimeout(() => fail(`no connection within ${timeoutMs} ms`), timeoutMs);
      socket.once('error', (err: NodeJS.ErrnoException) => {
        const hint = err.code === 'ENOENT' || err.code === 'ECONNREFUSED' ? ' (is charon running, with the vici plugin listening on this path?)' : '';
        fail(`${err.code ?? err.message}${hint}`, err);
      });
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.removeAllListeners('error');
        resolve(new ViciClient(socket, socketPath, timeoutMs));
      });
    });
  }

  /** Why the connection ended, once it has: `closed`, `timeout` or `protocol`. */
  get closeError(): ViciError | undefined {
    return this.closeReason;
  }

  /**
   * Sends `command` with `message` and resolves with charon's answer. Rejects with a ViciError when charon
   * answers `success = no` (kind `failed`, with its errmsg), does not know the command (`unknown-command`),
   * or the connection ends first.
   */
  request(command: string, message: ViciSection = {}, opts: ViciRequestOptions = {}): Promise<ViciSection> {
    return this.exchange(command, PacketType.CMD_REQUEST, command, message, 'command', opts);
  }

  /**
   * A command whose results come as `event` packets before its answer (list-sas → list-sa): registers for
   * `event`, passes each one to `onEvent` while the command runs, unregisters, and resolves with the answer.
   * If `onEvent` throws, the rest of the stream is still read and the promise rejects with that error.
   */
  async streamedRequest(
    command: string,
    message: ViciSection | undefined,
    event: string,
    onEvent: EventHandler,
    opts: ViciRequestOptions = {},
  ): Promise<ViciSection> {
    const release = await this.hold(event);
    try {
      return await this.exchange(command, PacketType.CMD_REQUEST, command, message ?? {}, 'command', opts, { event, onEvent });
    } finally {
      await release();
    }
  }

  /**
   * Calls `handler` for every `event` charon raises until the returned function is called (which
   * unregisters when no one else listens). Rejects with kind `unknown-event` if charon has no such event.
   * An exception from `handler` is re-thrown outside the client (as an EventEmitter listener's would be).
   */
  async subscribe(event: string, handler: EventHandler): Promise<() => Promise<void>> {
    const release = await this.hold(event);
    const handlers = this.subscribers.get(event) ?? new Set<EventHandler>();
    this.subscribers.set(event, handlers);
    // Wrapped, so the same function subscribed twice is two subscriptions.
    const entry: EventHandler = (s) => handler(s);
    handlers.add(entry);
    let done: Promise<void> | undefined;
    return () => {
      done ??= (async () => {
        handlers.delete(entry);
        if (handlers.size === 0 && this.subscribers.get(event) === handlers) this.subscribers.delete(event);
        await release();
      })();
      return done;
    };
  }

  /** Closes the socket; whatever is pending or queued rejects with kind `closed`. */
  close(): void {
    this.shutdown(this.ending('closed', `the vici connection to ${this.socketPath} was closed by this process`));
  }

  // ---- typed helpers -------------------------------------------------------------------------------

  /** `version`: daemon, version, sysname, release, machine. */
  version(): Promise<ViciSection> {
    return this.request('version');
  }

  /** Loads a shared secret (`type` IKE: a PSK for the `owners` identities). `data` never appears in an error. */
  async loadShared(s: { id?: string; type: 'IKE'; data: string; owners: string[] }): Promise<void> {
    const message: ViciSection = { type: s.type, data: s.data, owners: s.owners };
    if (s.id !== undefined) message.id = s.id;
    await this.request('load-shared', message, { secrets: [s.data] });
  }

  /** Unloads the shared secret loaded with this `id`. */
  async unloadShared(id: string): Promise<void> {
    await this.request('unload-shared', { id });
  }

  /** Loads (or replaces) the connection `name`; `conn` is its swanctl.conf-style section. */
  async loadConn(name: string, conn: ViciSection): Promise<void> {
    await this.request('load-conn', { [name]: conn });
  }

  async unloadConn(name: string): Promise<void> {
    await this.request('unload-conn', { name });
  }

  /**
   * Initiates the CHILD_SA `child` and waits up to `timeoutMs` (charon's own `timeout`, default the
   * client's) for it to come up; -1 returns at once. Rejects with charon's errmsg when it fails.
   */
  async initiate(o: { child: string; ike?: string; timeoutMs?: number }): Promise<void> {
    const timeoutMs = o.timeoutMs ?? this.timeoutMs;
    const message: ViciSection = { child: o.child, timeout: String(timeoutMs) };
    if (o.ike !== undefined) message.ike = o.ike;
    // charon answers after its own timeout: wait that long plus the usual margin.
    await this.request('initiate', message, { timeoutMs: Math.max(timeoutMs, 0) + this.timeoutMs });
  }

  /** The IKE_SAs, one `list-sa` event each: `{ <connection name>: { state, local-host, child-sas: {…}, … } }`. */
  async listSas(filter: { ike?: string } = {}): Promise<ViciSection[]> {
    const sas: ViciSection[] = [];
    const message: ViciSection = filter.ike === undefined ? {} : { ike: filter.ike };
    await this.streamedRequest('list-sas', message, 'list-sa', (s) => sas.push(s));
    return sas;
  }

  /** The names of the connections loaded over vici. */
  async getConns(): Promise<string[]> {
    const answer = await this.request('get-conns');
    const conns = answer.conns ?? [];
    if (!Array.isArray(conns)) throw new ViciError('protocol', 'get-conns', 'charon answered get-conns without a "conns" list');
    return conns.map((c) => (typeof c === 'string' ? c : c.toString('utf8')));
  }

  // ---- the wire ------------------------------------------------------------------------------------

  private exchange(
    label: string,
    type: PacketType,
    name: string,
    message: ViciSection | undefined,
    answers: Exchange['answers'],
    opts: ViciRequestOptions,
    stream?: Exchange['stream'],
  ): Promise<ViciSection> {
    return new Promise((resolve, reject) => {
      if (this.isClosed) {
        reject(new ViciError('closed', label, `cannot send "${label}": the vici connection is closed (${this.closeReason?.message ?? 'closed'})`));
        return;
      }
      let packet: Buffer;
      try {
        packet = encodePacket(type, name, message === undefined ? undefined : encodeMessage(message));
      } catch (err) {
        if (!(err instanceof UnencodableVici)) throw err;
        reject(new ViciError('encoding', label, `cannot send "${label}": ${err.message}`));
        return;
      }
      const exchange: Exchange = { label, packet, answers, timeoutMs: opts.timeoutMs ?? this.timeoutMs, secrets: opts.secrets ?? [], resolve, reject };
      if (stream !== undefined) exchange.stream = stream;
      this.queue.push(exchange);
      this.sendNext();
    });
  }

  private sendNext(): void {
    if (this.active !== undefined || this.isClosed) return;
    const exchange = this.queue.shift();
    if (exchange === undefined) return;
    const timer = setTimeout(() => {
      const why = `no answer from charon to "${exchange.label}" within ${exchange.timeoutMs} ms; the connection is closed, since a late answer could not be told from the next one`;
      this.shutdown(new ViciError('timeout', exchange.label, why));
    }, exchange.timeoutMs);
    this.active = { exchange, timer };
    const { packet, secrets } = exchange;
    // A packet that carried a secret is wiped once the kernel has it.
    this.socket.write(packet, () => {
      if (secrets.length > 0) packet.fill(0);
    });
  }

  private onData(chunk: Buffer): void {
    let segments: Buffer[];
    try {
      segments = this.reader.push(chunk);
    } catch (err) {
      this.malformed(err);
      return;
    }
    for (const segment of segments) {
      if (this.isClosed) return;
      try {
        this.onPacket(decodePacket(segment));
      } catch (err) {
        this.malformed(err);
        return;
      }
    }
  }

  private onPacket(packet: Packet): void {
    if (packet.type === PacketType.EVENT) {
      this.onEvent(packet.name!, decodeMessage(packet.message));
      return;
    }
    const active = this.active;
    const kind = PACKET_TYPE_NAMES[packet.type]!;
    if (active === undefined) throw new MalformedVici(`a ${kind} packet while no request was waiting for one`);
    const { exchange } = active;
    const expected =
      exchange.answers === 'command'
        ? packet.type === PacketType.CMD_RESPONSE || packet.type === PacketType.CMD_UNKNOWN
        : packet.type === PacketType.EVENT_CONFIRM || packet.type === PacketType.EVENT_UNKNOWN;
    if (!expected) throw new MalformedVici(`a ${kind} packet in answer to "${exchange.label}"`);
    const answer = packet.type === PacketType.CMD_RESPONSE ? decodeMessage(packet.message) : {};

    clearTimeout(active.timer);
    this.active = undefined;
    this.settle(exchange, packet.type, answer);
    this.sendNext();
  }

  private settle(exchange: Exchange, type: PacketType, answer: ViciSection): void {
    const { label } = exchange;
    switch (type) {
      case PacketType.CMD_UNKNOWN:
        exchange.reject(new ViciError('unknown-command', label, `charon does not know the vici command "${label}" (CMD_UNKNOWN)`));
        return;
      case PacketType.EVENT_UNKNOWN:
        exchange.reject(new ViciError('unknown-event', label, `charon refused "${label}": no such event (EVENT_UNKNOWN)`));
        return;
    }
    if (answer.success === 'no') {
      const errmsg = typeof answer.errmsg === 'string' ? redact(answer.errmsg, exchange.secrets) : undefined;
      exchange.reject(new ViciError('failed', label, `vici ${label} failed: ${errmsg ?? 'charon gave no reason'}`, { errmsg }));
      return;
    }
    if (exchange.stream?.error !== undefined) {
      exchange.reject(exchange.stream.error);
      return;
    }
    exchange.resolve(answer);
  }

  private onEvent(name: string, section: ViciSection): void {
    const stream = this.active?.exchange.stream;
    if (stream !== undefined && stream.event === name && stream.error === undefined) {
      try {
        stream.onEvent(section);
      } catch (err) {
        stream.error = err;
      }
    }
    for (const handler of [...(this.subscribers.get(name) ?? [])]) {
      try {
        handler(section);
      } catch (err) {
        // Not ours to swallow, and not allowed to break the parsing of the packets after this one.
        queueMicrotask(() => {
          throw err;
        });
      }
    }
  }

  /** Holds the registration for `event` (registering it on the wire for the first holder); returns the release. */
  private async hold(event: string): Promise<() => Promise<void>> {
    let entry = this.registrations.get(event);
    if (entry === undefined) {
      const registered = this.exchange(`register ${event}`, PacketType.EVENT_REGISTER, event, undefined, 'registration', {}).then(() => undefined);
      entry = { holders: 0, registered };
      this.registrations.set(event, entry);
      const created = entry;
      registered.catch(() => {
        if (this.registrations.get(event) === created) this.registrations.delete(event);
      });
    }
    entry.holders++;
    try {
      await entry.registered;
    } catch (err) {
      entry.holders--;
      throw err;
    }
    const held = entry;
    let released = false;
    return async () => {
      if (released) return;
      released = true;
      held.holders--;
      if (held.holders > 0 || this.registrations.get(event) !== held) return;
      this.registrations.delete(event);
      // Nothing to unregister on a connection that is gone.
      if (this.isClosed) return;
      await this.exchange(`unregister ${event}`, PacketType.EVENT_UNREGISTER, event, undefined, 'registration', {});
    };
  }

  private malformed(err: unknown): void {
    if (!(err instanceof MalformedVici)) throw err;
    this.shutdown(this.ending('protocol', `charon sent malformed vici data on ${this.socketPath} (${err.message}); the connection is closed`));
  }

  /** The error that ends the connection: it names the command left without an answer, if one was. */
  private ending(kind: 'closed' | 'protocol', why: string, cause?: unknown): ViciError {
    const label = this.active?.exchange.label;
    const text = label === undefined ? why : `"${label}" not answered: ${why}`;
    return new ViciError(kind, label ?? 'connection', text, { cause });
  }

  /** Ends the connection once: the waiting exchange and the queue reject, `closed` resolves. */
  private shutdown(reason: ViciError): void {
    if (this.isClosed) return;
    this.isClosed = true;
    this.closeReason = reason;
    this.socket.destroy();
    const active = this.active;
    if (active !== undefined) clearTimeout(active.timer);
    this.active = undefined;
    const queued = this.queue.splice(0);
    this.registrations.clear();
    this.subscribers.clear();
    // The exchange on the wire gets the reason itself; those still queued were never sent.
    active?.exchange.reject(reason);
    for (const exchange of queued) {
      exchange.reject(new ViciError('closed', exchange.label, `"${exchange.label}" was not sent: ${reason.message}`));
    }
    this.resolveClosed();
  }
}
