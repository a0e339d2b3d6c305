import { jest } from '@jest/globals';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { Readable } from 'node:stream';
import { Channel, type GrpcError } from './grpc.js';
import { PAUSE_ABOVE } from './message-pacer.js';

// A gRPC server on loopback, in its own process so that it sends while the client is busy: it answers a
// stream with `count` messages of `size` bytes (the first four bytes number them), then status OK.
const SERVER = `
const http2 = require('node:http2');
const [count, size] = process.argv.slice(1).map(Number);
const frame = (m) => { const h = Buffer.alloc(5); h.writeUInt32BE(m.length, 1); return Buffer.concat([h, m]); };
const server = http2.createServer();
server.on('stream', (stream) => {
  stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
  stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
  let i = 0;
  const writeMore = () => {
    while (i < count) {
      const m = Buffer.alloc(size);
      m.writeUInt32BE(i++, 0);
      if (!stream.write(frame(m))) return void stream.once('drain', writeMore);
    }
    stream.end();
  };
  writeMore();
});
server.listen(0, '127.0.0.1', () => console.log(server.address().port));
`;

async function burstServer(count: number, size: number): Promise<{ endpoint: string; stop(): Promise<void> }> {
  const child = spawn(process.execPath, ['-e', SERVER, String(count), String(size)], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = once(child, 'exit');
  const [line] = (await once(child.stdout!, 'data')) as [Buffer];
  return {
    endpoint: `http://127.0.0.1:${line.toString().trim()}`,
    stop: async () => {
      child.kill();
      await exited;
    },
  };
}

function spin(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until);
}

describe('a Watch-like stream over HTTP/2', () => {
  const SIZE = 1024;
  const COUNT = Math.ceil((3 * PAUSE_ABOVE) / SIZE);
  let server: Awaited<ReturnType<typeof burstServer>>;
  let channel: Channel;
  beforeEach(async () => {
    server = await burstServer(COUNT, SIZE);
    channel = new Channel({ endpoint: server.endpoint, dialTimeoutMs: 2000, keepaliveMs: 0 });
  });
  afterEach(async () => {
    jest.restoreAllMocks();
    channel.close();
    await server.stop();
  });

  it('hands on a burst larger than the pause threshold in order, then closes after the last message', async () => {
    const pauses = jest.spyOn(Readable.prototype, 'pause');
    const seen: number[] = [];
    const closed = new Promise<{ err: GrpcError | undefined; before: number }>((resolve) => {
      void channel.stream(
        '/burst',
        {},
        {
          onMessage: (m) => {
            seen.push(m.readUInt32BE(0));
            // Slower than loopback brings them, so a backlog builds and the stream is paused.
            if (seen.length % 8 === 0) spin(1);
          },
          onClose: (err) => resolve({ err, before: seen.length }),
        },
      );
    });
    const { err, before } = await closed;
    expect(err).toBeUndefined();
    expect(before).toBe(COUNT);
    expect(seen.every((n, i) => n === i)).toBe(true);
    expect(pauses.mock.contexts.some((s) => (s as object).constructor.name === 'ClientHttp2Stream')).toBe(true);
  });

  it('a handler that throws ends the stream with its error, and nothing more is handed on', async () => {
    let calls = 0;
    const closed = new Promise<GrpcError | undefined>((resolve) => {
      void channel.stream(
        '/burst',
        {},
        {
          onMessage: () => {
            if (++calls === 100) throw new Error('bad watch event');
          },
          onClose: resolve,
        },
      );
    });
    const err = await closed;
    expect(err?.message).toMatch(/bad watch event/);
    expect(calls).toBe(100);
  });
});
