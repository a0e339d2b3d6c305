// A stand-in for charon's end of the VICI socket in unit tests: a real Unix socket server that the test
// scripts byte by byte (what it must receive, what it answers), so the client is checked against byte
// sequences written by hand from the protocol README, not against its own encoder.
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Bytes written the way the README's example is: numbers are bytes, strings are their ASCII characters. */
export function bytes(...parts: (number | string | Buffer)[]): Buffer {
  return Buffer.concat(parts.map((p) => (typeof p === 'number' ? Buffer.of(p) : typeof p === 'string' ? Buffer.from(p, 'latin1') : p)));
}

/** A transport segment around `body`: its 4-byte big-endian length, then the body. */
export function segment(...body: (number | string | Buffer)[]): Buffer {
  const b = bytes(...body);
  const head = Buffer.alloc(4);
  head.writeUInt32BE(b.length);
  return Buffer.concat([head, b]);
}

export class ScriptedCharon {
  /** Every connection: the first is scripted, later ones (a test's second client) are only held open. */
  private readonly conns = new Set<Socket>();
  private readonly connected: Promise<Socket>;
  private inbox = Buffer.alloc(0);
  private waiter: (() => void) | undefined;

  private constructor(
    private readonly server: Server,
    private readonly dir: string,
    readonly path: string,
  ) {
    server.on('connection', (c: Socket) => {
      this.conns.add(c);
      c.on('close', () => this.conns.delete(c));
    });
    this.connected = new Promise((resolve) =>
      server.once('connection', (c: Socket) => {
        c.on('data', (d: Buffer) => {
          this.inbox = Buffer.concat([this.inbox, d]);
          this.waiter?.();
        });
        c.on('error', () => {});
        resolve(c);
      }),
    );
  }

  static async start(): Promise<ScriptedCharon> {
    const dir = mkdtempSync(join(tmpdir(), 'fts-vici-unit-'));
    const path = join(dir, 'charon.vici');
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(path, resolve));
    return new ScriptedCharon(server, dir, path);
  }

  /** Waits until `expected.length` bytes have arrived since the last call, and returns them. */
  async receive(length: number): Promise<Buffer> {
    await this.connected;
    while (this.inbox.length < length) await new Promise<void>((resolve) => (this.waiter = resolve));
    const got = this.inbox.subarray(0, length);
    this.inbox = this.inbox.subarray(length);
    return Buffer.from(got);
  }

  /** Bytes received and not yet taken by `receive`. */
  get unread(): number {
    return this.inbox.length;
  }

  /** Writes `data`, in pieces of `pieceBytes` each handed to the kernel separately when given. */
  async send(data: Buffer, pieceBytes?: number): Promise<void> {
    const c = await this.connected;
    const step = pieceBytes ?? data.length;
    for (let i = 0; i < data.length; i += step) {
      await new Promise<void>((resolve) => c.write(data.subarray(i, i + step), () => resolve()));
      // One turn of the loop between pieces, so the client reads each on its own.
      await new Promise((resolve) => setImmediate(resolve));
    }
  }

  /** Ends the connection from charon's side, as a dying charon would. */
  async hangUp(): Promise<void> {
    (await this.connected).destroy();
  }

  async stop(): Promise<void> {
    for (const c of this.conns) c.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    rmSync(this.dir, { recursive: true, force: true });
  }
}
