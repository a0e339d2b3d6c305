// The VICI client against a real charon (Debian's strongswan-charon), run in a network namespace of its
// own with its own strongswan.conf: the vici socket and charon's /run (its fixed pid file) live in a temp
// folder. This kernel has no ESP, so no SA is established here: the ipsec backend's traffic tests run
// in the nested kernel. What is checked is the conversation with charon.
import { jest } from '@jest/globals';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { ViciClient, ViciError, type ViciSection } from '@flannel-ts/vici';
import { cleanupNetns, createNetns, RUN_PREFIX } from '../harness/netns.js';
import { startProcess, stopProcess, waitForExit, waitForOutput, type Started } from '../harness/processes.js';
import { DEADLINE, waitFor } from '../harness/wait.js';

jest.setTimeout(DEADLINE.testMs);

// Where Debian and others put charon (the ipsec backend looks in the same places).
const CHARON = ['/usr/lib/ipsec/charon', '/usr/lib/strongswan/charon', '/usr/libexec/ipsec/charon', '/usr/libexec/strongswan/charon'].find(existsSync);
// A PSK of the shape flannel uses (at least 96 characters); it must never show up in an error or a log.
const PSK = 'fts-vici-psk-' + 'c0ffee42'.repeat(12);

let dir: string;
let charon: Started;
let client: ViciClient;

async function settled<T>(p: Promise<T>): Promise<T | ViciError> {
  return p.catch((e: unknown) => e as ViciError);
}

/** flannel's connection for one peer, as the ipsec backend loads it (start_action none: nothing to reach here). */
function flannelConn(): ViciSection {
  return {
    local_addrs: ['198.51.100.1'],
    remote_addrs: ['198.51.100.2'],
    proposals: ['aes256-sha256-modp4096'],
    version: '2',
    keyingtries: '0',
    encap: 'no',
    local: { auth: 'psk' },
    remote: { auth: 'psk' },
    children: {
      '10.244.1.0/24-10.244.2.0/24': {
        local_ts: ['10.244.1.0/24'],
        remote_ts: ['10.244.2.0/24'],
        esp_proposals: ['aes128gcm16-sha256-prfsha256-ecp256'],
        start_action: 'none',
        close_action: 'trap',
        dpd_action: 'restart',
        mode: 'tunnel',
        reqid: '11',
        rekey_time: '1h',
        policies: 'no',
      },
    },
  };
}

beforeAll(async () => {
  if (CHARON === undefined) throw new Error('charon is not installed: run scripts/install-deps.sh (Debian strongswan-charon, libstrongswan-standard-plugins)');
  const ns = createNetns('vici');
  dir = mkdtempSync(join(tmpdir(), `${RUN_PREFIX}vici-`));
  mkdirSync(join(dir, 'run'));
  const socket = join(dir, 'charon.vici');
  writeFileSync(
    join(dir, 'strongswan.conf'),
    `charon {
  load = random nonce openssl pem pkcs1 x509 revocation constraints pubkey kernel-netlink socket-default vici updown
  install_routes = no
  plugins {
    vici {
      socket = unix://${socket}
    }
  }
  filelog {
    stderr {
      default = 1
    }
  }
}
`,
  );
  // charon's pid file is fixed at /var/run/charon.pid: a /run of its own (ip netns exec gives the command
  // its own mount namespace, so the bind mount ends with it) keeps it from meeting another charon's.
  charon = startProcess('sh', ['-c', 'mount --bind "$1" /run && exec "$2"', 'sh', join(dir, 'run'), CHARON], {
    netns: ns,
    env: { ...process.env, STRONGSWAN_CONF: join(dir, 'strongswan.conf') },
  });
  // The vici socket is listening once the plugins are loaded, before the worker threads start.
  await waitForOutput(charon, (out) => /spawning \d+ worker threads/.test(out), DEADLINE.readyMs, 'charon');
  client = await ViciClient.connect(socket);
});

afterAll(async () => {
  client?.close();
  if (charon) await stopProcess(charon.child);
  cleanupNetns();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('the vici client against charon', () => {
  it('asks charon its version', async () => {
    expect(await client.version()).toMatchObject({ daemon: 'charon', version: expect.stringMatching(/^5\.\d+\.\d+/), sysname: 'Linux' });
  });

  it('loads and unloads a shared key, and the PSK appears nowhere: not in an error, not in charon log', async () => {
    await client.loadShared({ id: 'fts-test-key', type: 'IKE', data: PSK, owners: ['198.51.100.1'] });
    await waitForOutput(charon, (out) => out.includes("loaded IKE shared key with id 'fts-test-key' for: '198.51.100.1'"), DEADLINE.convergeMs, 'charon');
    await client.unloadShared('fts-test-key');

    const refused = await settled(client.loadShared({ type: 'XAUTH-ish' as 'IKE', data: PSK, owners: ['198.51.100.1'] }));
    expect(refused).toBeInstanceOf(ViciError);
    expect(refused).toMatchObject({ kind: 'failed', command: 'load-shared', errmsg: 'invalid shared key type: XAUTH-ish' });
    for (const text of [inspect(refused, { depth: 5 }), JSON.stringify(refused), charon.output()]) expect(text).not.toContain(PSK);
  });

  it('loads a connection shaped as flannel loads one, lists it, unloads it', async () => {
    const name = '198.51.100.1-10.244.1.0/24-10.244.2.0/24-198.51.100.2';
    await client.loadConn(name, flannelConn());
    expect(await client.getConns()).toEqual([name]);
    const listed: ViciSection[] = [];
    await client.streamedRequest('list-conns', { ike: name }, 'list-conn', (s) => listed.push(s));
    expect(listed).toEqual([{ [name]: expect.objectContaining({ local_addrs: ['198.51.100.1'], remote_addrs: ['198.51.100.2'], version: 'IKEv2' }) }]);
    await client.unloadConn(name);
    expect(await client.getConns()).toEqual([]);
  });

  it('lists no SAs, filtered or not', async () => {
    expect(await client.listSas()).toEqual([]);
    expect(await client.listSas({ ike: 'nothing' })).toEqual([]);
  });

  it("rejects failing commands with charon's reason, and the connection stays usable", async () => {
    const badOption = await settled(client.loadConn('fts-bad', { ...flannelConn(), install_policy: 'no' }));
    expect(badOption).toMatchObject({ kind: 'failed', command: 'load-conn', errmsg: 'unknown option: install_policy, config discarded' });
    expect((badOption as Error).message).toBe('vici load-conn failed: unknown option: install_policy, config discarded');
    expect(await settled(client.unloadConn('fts-never-loaded'))).toMatchObject({ kind: 'failed', errmsg: "unload: connection 'fts-never-loaded' not found" });
    expect(await settled(client.initiate({ child: 'fts-no-child', timeoutMs: 1_000 }))).toMatchObject({
      kind: 'failed',
      command: 'initiate',
      errmsg: "CHILD_SA config 'fts-no-child' not found",
    });
    expect(await settled(client.request('fts-no-such-command'))).toMatchObject({ kind: 'unknown-command', command: 'fts-no-such-command' });
    expect(await client.getConns()).toEqual([]);
  });

  it('registers for events, gets them between requests and answers, and unregisters', async () => {
    const logs: string[] = [];
    const unsubscribe = await client.subscribe('log', (s) => logs.push(String(s.msg)));
    const updown = await client.subscribe('ike-updown', () => {});
    // charon queues log events and sends them from another thread: before or after the answer.
    await client.loadShared({ id: 'fts-event-key', type: 'IKE', data: PSK, owners: ['198.51.100.3'] });
    const loaded = "loaded IKE shared key with id 'fts-event-key' for: '198.51.100.3'";
    expect(await waitFor(() => logs.includes(loaded), DEADLINE.convergeMs)).toBe(true);
    await unsubscribe();
    await updown();
    const before = logs.length;
    await client.unloadShared('fts-event-key');
    await waitForOutput(charon, (out) => out.includes("unloaded shared key with id 'fts-event-key'"), DEADLINE.convergeMs, 'charon');
    await client.version(); // one more round trip, for a log event sent despite the unregistration to arrive
    expect(logs.slice(before)).toEqual([]);
    expect(logs.join('\n')).not.toContain(PSK);

    expect(await settled(client.subscribe('fts-no-such-event', () => {}))).toMatchObject({ kind: 'unknown-event', command: 'register fts-no-such-event' });
  });

  // Last: it ends charon.
  it('resolves closed when charon dies, and rejects what comes after', async () => {
    await stopProcess(charon.child, 0, 'SIGKILL');
    await waitForExit(charon, DEADLINE.readyMs, 'charon');
    await client.closed;
    expect(client.closeError).toMatchObject({ kind: 'closed', message: expect.stringContaining('(did charon stop?)') });
    expect(await settled(client.version())).toMatchObject({ kind: 'closed', command: 'version' });
  });
});
