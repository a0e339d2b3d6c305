import { callOutcome, decodeGrpcMessage, frame, FrameParser, GrpcError, Status } from './grpc.js';

const EP = 'http://192.0.2.1:2379';

describe('gRPC framing', () => {
  it('frames a message with a zero flag and a big-endian length', () => {
    expect(frame(Buffer.from('abc')).toString('hex')).toBe('0000000003616263');
    expect(frame(Buffer.alloc(0)).toString('hex')).toBe('0000000000');
  });

  it('cuts messages out of a stream however the chunks fall: split headers, several per chunk, empty messages', () => {
    const messages = [Buffer.from('first'), Buffer.alloc(0), Buffer.alloc(70_000, 7), Buffer.from('last')];
    const stream = Buffer.concat(messages.map(frame));
    for (const size of [1, 2, 3, 5, 7, 4096, stream.length]) {
      const parser = new FrameParser();
      const got: Buffer[] = [];
      for (let at = 0; at < stream.length; at += size) parser.push(stream.subarray(at, at + size), (m) => got.push(Buffer.from(m)));
      expect(got).toEqual(messages);
    }
  });

  it('refuses a compressed message, which it never asks for', () => {
    const parser = new FrameParser();
    expect(() => parser.push(Buffer.from('0100000001ff', 'hex'), () => undefined)).toThrow(/compressed/);
  });
});

describe('call outcome', () => {
  it('OK in the trailers, or in a trailers-only reply, is success', () => {
    expect(callOutcome(EP, { ':status': 200 }, { 'grpc-status': '0' }, undefined, 0)).toBeUndefined();
    expect(callOutcome(EP, { ':status': 200, 'grpc-status': '0' }, undefined, undefined, 0)).toBeUndefined();
  });

  it("an error status carries etcd's message, percent-decoded, and the endpoint", () => {
    const err = callOutcome(EP, { ':status': 200, 'grpc-status': '3', 'grpc-message': 'etcdserver:%20user%20name%20is%20empty' }, undefined, undefined, 0)!;
    expect(err).toBeInstanceOf(GrpcError);
    expect(err.code).toBe(Status.INVALID_ARGUMENT);
    expect(err.message).toBe('INVALID_ARGUMENT: etcdserver: user name is empty (etcd at http://192.0.2.1:2379)');
    expect(err.sent).toBe(true);
  });

  it('a stream that ends without a status is a lost connection; a refused stream was never processed', () => {
    const lost = callOutcome(EP, undefined, undefined, new Error('socket hang up'), 2)!;
    expect(lost.code).toBe(Status.UNAVAILABLE);
    expect(lost.message).toMatch(/unavailable/i); // flanneld's outage tracker reads it as "unreachable"
    expect(lost.sent).toBe(true);
    expect(callOutcome(EP, undefined, undefined, undefined, 7)!.sent).toBe(false); // NGHTTP2_REFUSED_STREAM
  });

  it('an HTTP error without a gRPC status (a proxy in the way) maps as gRPC says', () => {
    expect(callOutcome(EP, { ':status': 503 }, undefined, undefined, 0)!.code).toBe(Status.UNAVAILABLE);
    expect(callOutcome(EP, { ':status': 404 }, undefined, undefined, 0)!.code).toBe(Status.UNKNOWN);
  });

  it('keeps a grpc-message that is not valid percent-encoding as it is', () => {
    expect(decodeGrpcMessage('100%')).toBe('100%');
  });
});
