// The client against a scripted charon: every byte it must send and every byte charon answers is written
// by hand from the protocol README (see bytes()/segment()).
import { inspect } from 'node:util';
import { ViciClient } from './client.js';
import { ViciError } from './errors.js';
import { ScriptedCharon, bytes, segment } from './scripted-charon.test-util.js';

let charon: ScriptedCharon;
let client: ViciClient;

beforeEach(async () => {
  charon = await ScriptedCharon.start();
  client = await ViciClient.connect(charon.path, { timeoutMs: 2_000 });
});
afterEach(async () => {
  client.close();
  await charon.stop();
});

const VERSION_REQUEST = segment(0, 7, 'version');
const OK = segment(1, 3, 7, 'success', 0, 3, 'yes');
const failed = (errmsg: string) => segment(1, 3, 7, 'success', 0, 2, 'no', 3, 6, 'errmsg', 0, errmsg.length, errmsg);

async function settled<T>(p: Promise<T>): Promise<T | ViciError> {
  return p.catch((e: unknown) => e as ViciError);
}

describe('requests', () => {
  it('sends "version" as its packet and resolves with the decoded answer', async () => {
    const answer = client.request('version');
    expect(await charon.receive(VERSION_REQUEST.length)).toEqual(VERSION_REQUEST);
    await charon.send(segment(1, 3, 6, 'daemon', 0, 6, 'charon', 3, 7, 'version', 0, 5, '5.9.8'));
    await expect(answer).resolves.toEqual({ daemon: 'charon', version: '5.9.8' });
  });

  it('puts one request on the wire at a time, in order, the next only after the answer', async () => {
    const first = client.request('version');
    const second = client.unloadConn('c1');
    expect(await charon.receive(VERSION_REQUEST.length)).toEqual(VERSION_REQUEST);
    await charon.send(Buffer.alloc(0)); // a turn of the loop: nothing more may have been sent
    expect(charon.unread).toBe(0);
    await charon.send(segment(1));
    await expect(first).resolves.toEqual({});
    const unload = segment(0, 11, 'unload-conn', 3, 4, 'name', 0, 2, 'c1');
    expect(await charon.receive(unload.length)).toEqual(unload);
    await charon.send(OK);
    await expect(second).resolves.toBeUndefined();
  });

  it('reads an answer delivered one byte per read', async () => {
    const answer = client.getConns();
    await charon.receive(segment(0, 9, 'get-conns').length);
    await charon.send(segment(1, 4, 5, 'conns', 5, 0, 1, 'a', 5, 0, 2, 'bc', 6), 1);
    await expect(answer).resolves.toEqual(['a', 'bc']);
  });

  it('encodes load-conn as a section named after the connection', async () => {
    const done = client.loadConn('n1', { version: '2', local_addrs: ['198.51.100.1'], children: { c: { mode: 'tunnel' } } });
    const expected = segment(
      ...[0, 9, 'load-conn'],
      ...[1, 2, 'n1'],
      ...[3, 7, 'version', 0, 1, '2'],
      ...[4, 11, 'local_addrs', 5, 0, 12, '198.51.100.1', 6],
      ...[1, 8, 'children', 1, 1, 'c', 3, 4, 'mode', 0, 6, 'tunnel', 2, 2],
      2,
    );
    expect(await charon.receive(expected.length)).toEqual(expected);
    await charon.send(OK);
    await expect(done).resolves.toBeUndefined();
  });

  it('rejects success=no with charon\'s errmsg, kind "failed", and goes on with the next request', async () => {
    const bad = settled(client.unloadConn('nope'));
    const next = client.version();
    await charon.receive(segment(0, 11, 'unload-conn', 3, 4, 'name', 0, 4, 'nope').length);
    await charon.send(failed("connection 'nope' not found"));
    const err = await bad;
    expect(err).toBeInstanceOf(ViciError);
    expect(err).toMatchObject({ kind: 'failed', command: 'unload-conn', errmsg: "connection 'nope' not found" });
    expect((err as ViciError).message).toBe("vici unload-conn failed: connection 'nope' not found");
    await charon.receive(VERSION_REQUEST.length);
    await charon.send(segment(1));
    await expect(next).resolves.toEqual({});
  });

  it('rejects CMD_UNKNOWN with kind "unknown-command"', async () => {
    const err = settled(client.request('no-such-command'));
    await charon.receive(segment(0, 15, 'no-such-command').length);
    await charon.send(segment(2));
    expect(await err).toMatchObject({
      kind: 'unknown-command',
      command: 'no-such-command',
      message: 'charon does not know the vici command "no-such-command" (CMD_UNKNOWN)',
    });
  });

  it('refuses a message it cannot encode without sending anything, and stays usable', async () => {
    const err = await settled(client.request('load-conn', { c: { port: 500 } } as never));
    expect(err).toMatchObject({ kind: 'encoding', command: 'load-conn' });
    expect((err as Error).message).toMatch(/"c.port" is a number/);
    const v = client.version();
    expect(await charon.receive(VERSION_REQUEST.length)).toEqual(VERSION_REQUEST);
    await charon.send(segment(1));
    await expect(v).resolves.toEqual({});
  });
});

describe('events', () => {
  const REGISTER_LIST_SA = segment(3, 7, 'list-sa');
  const UNREGISTER_LIST_SA = segment(4, 7, 'list-sa');
  const LIST_SAS = segment(0, 8, 'list-sas');
  const sa = (name: string, state: string) => segment(7, 7, 'list-sa', 1, name.length, name, 3, 5, 'state', 0, state.length, state, 2);

  it('lists SAs: registers list-sa, gets the events streamed before the answer (several packets in one read), unregisters', async () => {
    const sas = client.listSas();
    expect(await charon.receive(REGISTER_LIST_SA.length)).toEqual(REGISTER_LIST_SA);
    await charon.send(segment(5));
    expect(await charon.receive(LIST_SAS.length)).toEqual(LIST_SAS);
    await charon.send(Buffer.concat([sa('a', 'ESTABLISHED'), sa('b', 'CONNECTING'), segment(1)]));
    expect(await charon.receive(UNREGISTER_LIST_SA.length)).toEqual(UNREGISTER_LIST_SA);
    await charon.send(segment(5));
    await expect(sas).resolves.toEqual([{ a: { state: 'ESTABLISHED' } }, { b: { state: 'CONNECTING' } }]);
  });

  it('passes the ike filter of list-sas', async () => {
    const sas = client.listSas({ ike: 'n1' });
    await charon.receive(REGISTER_LIST_SA.length);
    await charon.send(segment(5));
    const req = segment(0, 8, 'list-sas', 3, 3, 'ike', 0, 2, 'n1');
    expect(await charon.receive(req.length)).toEqual(req);
    await charon.send(segment(1));
    await charon.receive(UNREGISTER_LIST_SA.length);
    await charon.send(segment(5));
    await expect(sas).resolves.toEqual([]);
  });

  it('delivers subscribed events that arrive between a request and its answer, and unregisters on the last unsubscribe', async () => {
    const seen: string[] = [];
    const subscribing = client.subscribe('ike-updown', (s) => seen.push(`one:${String(s.up)}`));
    const REGISTER = segment(3, 10, 'ike-updown');
    expect(await charon.receive(REGISTER.length)).toEqual(REGISTER);
    await charon.send(segment(5));
    const unsubscribeOne = await subscribing;
    // A second subscriber shares the registration: nothing goes on the wire for it.
    const unsubscribeTwo = await client.subscribe('ike-updown', (s) => seen.push(`two:${String(s.up)}`));

    const v = client.version();
    await charon.receive(VERSION_REQUEST.length);
    const updown = segment(7, 10, 'ike-updown', 3, 2, 'up', 0, 3, 'yes');
    await charon.send(Buffer.concat([updown, segment(1, 3, 6, 'daemon', 0, 6, 'charon')]), 5);
    await expect(v).resolves.toEqual({ daemon: 'charon' });
    expect(seen).toEqual(['one:yes', 'two:yes']);

    await unsubscribeOne();
    await unsubscribeOne(); // twice is once
    expect(charon.unread).toBe(0);
    const unsubscribing = unsubscribeTwo();
    const UNREGISTER = segment(4, 10, 'ike-updown');
    expect(await charon.receive(UNREGISTER.length)).toEqual(UNREGISTER);
    await charon.send(segment(5));
    await unsubscribing;
    await charon.send(updown);
    expect(seen).toEqual(['one:yes', 'two:yes']);
  });

  it('rejects a subscription charon refuses (EVENT_UNKNOWN) with kind "unknown-event"', async () => {
    const sub = settled(client.subscribe('no-such-event', () => {}));
    await charon.receive(segment(3, 13, 'no-such-event').length);
    await charon.send(segment(6));
    expect(await sub).toMatchObject({ kind: 'unknown-event', command: 'register no-such-event' });
  });

  it('rejects a streamed request whose onEvent threw, after reading the rest of the stream, and the wire stays in step', async () => {
    const boom = new Error('handler broke');
    const req = settled(
      client.streamedRequest('list-sas', undefined, 'list-sa', () => {
        throw boom;
      }),
    );
    await charon.receive(REGISTER_LIST_SA.length);
    await charon.send(segment(5));
    await charon.receive(LIST_SAS.length);
    await charon.send(Buffer.concat([sa('a', 'X'), sa('b', 'Y'), segment(1)]));
    await charon.receive(UNREGISTER_LIST_SA.length);
    await charon.send(segment(5));
    expect(await req).toBe(boom);
    const v = client.version();
    await charon.receive(VERSION_REQUEST.length);
    await charon.send(segment(1));
    await expect(v).resolves.toEqual({});
  });
});

describe('secrets', () => {
  const PSK = 'psk-' + 'a1b2c3d4'.repeat(12);

  it('sends load-shared as type, data, owners, and keeps the PSK out of the error even when charon echoes it', async () => {
    const loading = settled(client.loadShared({ id: 'flannel', type: 'IKE', data: PSK, owners: ['198.51.100.1'] }));
    const expected = segment(
      ...[0, 11, 'load-shared'],
      ...[3, 4, 'type', 0, 3, 'IKE'],
      ...[3, 4, 'data', 0, PSK.length, PSK],
      ...[4, 6, 'owners', 5, 0, 12, '198.51.100.1', 6],
      ...[3, 2, 'id', 0, 7, 'flannel'],
    );
    expect(await charon.receive(expected.length)).toEqual(expected);
    await charon.send(failed(`bad key ${PSK}!`));
    const err = (await loading) as ViciError;
    expect(err).toMatchObject({ kind: 'failed', command: 'load-shared', message: 'vici load-shared failed: bad key (redacted)!' });
    for (const text of [err.message, err.errmsg, err.stack, inspect(err, { depth: 5 }), JSON.stringify(err)]) expect(text).not.toContain(PSK);
  });

  it('never names the PSK when it cannot be encoded', async () => {
    const huge = PSK.repeat(700);
    const err = (await settled(client.loadShared({ type: 'IKE', data: huge, owners: [] }))) as ViciError;
    expect(err).toMatchObject({ kind: 'encoding', command: 'load-shared' });
    expect(err.message).toBe('cannot send "load-shared": the value of "data" is 70000 bytes long; vici values hold at most 65535');
    expect(inspect(err)).not.toContain(PSK);
  });
});

describe('the end of the connection', () => {
  it('rejects the waiting request and the queued ones, and resolves closed, when charon hangs up', async () => {
    const waiting = settled(client.version());
    const queued = settled(client.getConns());
    await charon.receive(VERSION_REQUEST.length);
    await charon.hangUp();
    await client.closed;
    expect(await waiting).toMatchObject({ kind: 'closed', command: 'version' });
    expect(((await waiting) as Error).message).toMatch(/^"version" not answered: charon closed the vici socket .*charon.vici \(did charon stop\?\)$/);
    expect(await queued).toMatchObject({ kind: 'closed', command: 'get-conns' });
    expect(client.closeError).toMatchObject({ kind: 'closed' });
    expect(await settled(client.version())).toMatchObject({
      kind: 'closed',
      message: expect.stringMatching(/^cannot send "version": the vici connection is closed/),
    });
  });

  it.each([
    ['an unknown element in an answer', segment(1, 9), /at byte 0 of 1: unknown element type 9/],
    ['a zero segment length', bytes(0, 0, 0, 0), /a segment length of 0 bytes/],
    ['a segment longer than 512 KiB (refused from its header)', bytes(0, 0x10, 0, 0), /a segment length of 1048576 bytes/],
    ['an answer of the wrong kind', segment(5), /a EVENT_CONFIRM packet in answer to "version"/],
    ['a request packet from charon', segment(0, 1, 'x'), /a CMD_REQUEST packet in answer to "version"/],
  ])('closes the connection on %s, with a clear error', async (_, data, why) => {
    const waiting = settled(client.version());
    await charon.receive(VERSION_REQUEST.length);
    await charon.send(data);
    await client.closed;
    const err = (await waiting) as ViciError;
    expect(err).toMatchObject({ kind: 'protocol', command: 'version' });
    expect(err.message).toMatch(/^"version" not answered: charon sent malformed vici data on .*charon.vici \(/);
    expect(err.message).toMatch(why);
    expect(err.message).toMatch(/; the connection is closed$/);
  });

  it('closes on an answer nobody asked for', async () => {
    await charon.send(segment(1));
    await client.closed;
    expect(client.closeError).toMatchObject({ kind: 'protocol', command: 'connection' });
    expect(client.closeError!.message).toMatch(/a CMD_RESPONSE packet while no request was waiting for one/);
  });

  it('gives up on an answer that does not come in time, closing the connection', async () => {
    const fast = await ViciClient.connect(charon.path, { timeoutMs: 50 });
    const err = await settled(fast.version());
    expect(err).toMatchObject({ kind: 'timeout', command: 'version' });
    expect((err as Error).message).toBe(
      'no answer from charon to "version" within 50 ms; the connection is closed, since a late answer could not be told from the next one',
    );
    await fast.closed;
  });

  it('close() rejects what is pending and resolves closed', async () => {
    const waiting = settled(client.version());
    await charon.receive(VERSION_REQUEST.length);
    client.close();
    await client.closed;
    expect(await waiting).toMatchObject({
      kind: 'closed',
      message: expect.stringMatching(/"version" not answered: the vici connection to .* was closed by this process/),
    });
  });

  it('says what is wrong when there is no socket', async () => {
    const err = await settled(ViciClient.connect(`${charon.path}.missing`));
    expect(err).toMatchObject({ kind: 'connect', command: 'connect' });
    expect((err as Error).message).toMatch(
      /^cannot connect to charon's vici socket .*charon.vici.missing: ENOENT \(is charon running, with the vici plugin listening on this path\?\)$/,
    );
  });
});
