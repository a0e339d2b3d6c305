/**
 * Milliseconds of a turn of the event loop that handing messages on may take (a message is never cut: the
 * one that crosses the line finishes). A lease's watch event costs 20-40 µs to decode and read here, so
 * a turn takes 250-500 of them.
 */
export const MS_PER_TURN = 10;

/**
 * With more than this waiting, the stream is paused: HTTP/2 flow control then holds etcd back, once it has
 * sent what the stream's receive window still allowed (16 MB, see grpc.ts), which Node buffers meanwhile.
 */
export const PAUSE_ABOVE = 1 << 20;

export interface PacerFlow {
  /** Stop reading the stream (and resume): the pacer asks for it when too much is waiting. */
  pause(): void;
  resume(): void;
  /** The message handler threw: nothing more is delivered. */
  failed(err: Error): void;
}

/**
 * Hands a stream's messages on in order, for at most MS_PER_TURN a turn of the event loop. One network read
 * can bring hundreds of watch responses (a writer putting 5,000 leases), and decoding them all at once held
 * the loop for ~40 ms; what is over the budget waits for the next turn, after timers and I/O had theirs.
 * A quiet stream's message is handed on at once. Time and not bytes: the cost of a byte differs between
 * machines, and between code V8 has optimised and code it has not (a budget of 32 KB cost live lag here).
 */
export class MessagePacer {
  private queue: (Buffer | undefined)[] = [];
  private head = 0;
  private queuedBytes = 0;
  /** Milliseconds spent handing messages on this turn. */
  private usedThisTurn = 0;
  private turnScheduled = false;
  private paused = false;
  private stopped = false;
  private whenDrained: (() => void) | undefined;

  constructor(
    private readonly deliver: (message: Buffer) => void,
    private readonly flow: PacerFlow,
    private readonly now: () => number = () => performance.now(),
  ) {}

  push(message: Buffer): void {
    if (this.stopped) return;
    // At once only when nothing waits (the order) and this turn has time left; the turn's end resets it.
    if (this.head === this.queue.length && this.usedThisTurn < MS_PER_TURN) {
      this.scheduleTurn();
      this.handOn(message);
      return;
    }
    this.queue.push(message);
    this.queuedBytes += message.length;
    if (!this.paused && this.queuedBytes > PAUSE_ABOVE) {
      this.paused = true;
      this.flow.pause();
    }
    this.scheduleTurn();
  }

  /** Runs `fn` once every message pushed so far is handed on (at once if none waits, or after stop()). */
  afterDrained(fn: () => void): void {
    if (this.stopped || this.head === this.queue.length) fn();
    else this.whenDrained = fn;
  }

  /** Drops what waits; nothing more is handed on. */
  stop(): void {
    this.stopped = true;
    this.queuedBytes = 0;
    // push() drops what the stream still brings.
    this.emptied();
  }

  /** Nothing waits: a paused stream flows again (or it would never end, nor close), the drain is told. */
  private emptied(): void {
    this.queue = [];
    this.head = 0;
    if (this.paused) {
      this.paused = false;
      this.flow.resume();
    }
    const fn = this.whenDrained;
    this.whenDrained = undefined;
    fn?.();
  }

  private scheduleTurn(): void {
    if (this.turnScheduled) return;
    this.turnScheduled = true;
    setImmediate(this.nextTurn);
  }

  /**
   * The check phase of a turn, after the poll phase whose network reads pushed the messages: it goes on
   * with what those left of the budget, and the budget starts over for the next turn.
   */
  private readonly nextTurn = (): void => {
    this.turnScheduled = false;
    while (!this.stopped && this.head < this.queue.length && this.usedThisTurn < MS_PER_TURN) {
      const message = this.queue[this.head]!;
      this.queue[this.head++] = undefined;
      this.queuedBytes -= message.length;
      this.handOn(message);
    }
    this.usedThisTurn = 0;
    if (this.stopped) return;
    if (this.head < this.queue.length) {
      // A stream that keeps up with its pacing never empties the queue: drop the slots handed on.
      if (this.head > 1024 && this.head * 2 > this.queue.length) {
        this.queue.splice(0, this.head);
        this.head = 0;
      }
      this.scheduleTurn();
      return;
    }
    this.emptied();
  };

  private handOn(message: Buffer): void {
    const started = this.now();
    try {
      this.deliver(message);
      this.usedThisTurn += this.now() - started;
    } catch (err) {
      // Told first: whatever waits for the drain (the stream's close) then sees the failure.
      this.flow.failed(err as Error);
      this.stop();
    }
  }
}
