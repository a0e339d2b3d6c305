// Starting charon (strongSwan's IKE daemon) as flanneld's child, with a configuration of ours, and
// connecting to its VICI socket.
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, mkdirSync, writeFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { createInterface } from 'node:readline';
import { UserError, type Logger } from '@flannel-ts/core';
import { ViciClient } from '@flannel-ts/vici';
import { viciSession, type IkeSession } from './ike.js';
import type { IpsecSecret } from './secret.js';

/** Go flannel's search order: `charon` on PATH, then the usual places distributions put it. */
export const CHARON_PATHS = ['/usr/lib/strongswan/charon', '/usr/lib/ipsec/charon', '/usr/libexec/strongswan/charon', '/usr/libexec/ipsec/charon'];

/** Where our charon's configuration and VICI socket live; FLANNEL_IPSEC_DIR moves it (several nodes on one host). */
export const DEFAULT_RUN_DIR = '/run/flannel/ipsec';
export const RUN_DIR_ENV = 'FLANNEL_IPSEC_DIR';

export const runDir = () => process.env[RUN_DIR_ENV] || DEFAULT_RUN_DIR;

/**
 * The plugins charon needs for PSK IKEv2 with Go flannel's proposals (aes256-sha256-modp4096, and
 * aes128gcm16-sha256-prfsha256-ecp256 for ESP: openssl from libstrongswan-standard-plugins brings the ECP
 * groups), the kernel interface, its sockets and VICI. No stroke: its socket would clash with a system charon's.
 */
const PLUGINS = 'random nonce aes sha1 sha2 hmac gcm gmp openssl kdf pem pkcs1 x509 pubkey constraints revocation kernel-netlink socket-default vici';

/** The first charon of CHARON_PATHS' order, or a UserError saying what to install. */
export function findCharon(): string {
  const onPath = (process.env.PATH ?? '')
    .split(delimiter)
    .filter(Boolean)
    .map((d) => join(d, 'charon'));
  for (const candidate of [...onPath, ...CHARON_PATHS]) {
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // next
    }
  }
  throw new UserError(
    'Backend.Type',
    `the ipsec backend needs strongSwan's charon, and there is none on PATH nor at ${CHARON_PATHS.join(', ')}`,
    'install it (Debian: apt-get install strongswan-charon libstrongswan-standard-plugins), or choose another backend',
  );
}

/** strongswan.conf for our charon: its VICI socket in our folder, no routes or virtual IPs of its own, our plugins only. */
export function charonConf(socket: string): string {
  return [
    '# Written by flanneld (ipsec backend); rewritten at every start.',
    'charon {',
    '  install_routes = no',
    '  install_virtual_ip = no',
    '  load_modular = no',
    `  load = ${PLUGINS}`,
    '  plugins {',
    `    vici { socket = unix://${socket} }`,
    '  }',
    '  filelog {',
    // `stderr` is charon's name for its own fd 2 (a path would not open: Node's pipes are sockets).
    '    stderr {',
    '      default = 1',
    '      ike_name = yes',
    // Line by line, not in 4 KiB blocks: a line is in flanneld's log when charon says it.
    '      flush_line = yes',
    '    }',
    '  }',
    '  syslog {',
    '    daemon {',
    '      default = -1',
    '    }',
    '  }',
    '}',
    '',
  ].join('\n');
}

/** A running charon and our VICI session with it. */
export interface CharonInstance {
  session: IkeSession;
  pid: number | undefined;
  /** Resolves when the process has exited, with how. */
  exited: Promise<string>;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once it has exited. */
  stop(graceMs?: number): Promise<void>;
}

/** Starts charon and opens a VICI session with it; the test suites give the backend another. */
export type CharonLauncher = (o: { logger: Logger; psk: IpsecSecret; signal: AbortSignal }) => Promise<CharonInstance>;

/** How long charon may take to open its VICI socket (it takes ~50 ms on a host, seconds under emulation). */
const START_TIMEOUT_MS = 60_000;

/**
 * The real launcher: charon from the facts' search order, with STRONGSWAN_CONF pointing at our config,
 * under `setpriv --pdeathsig TERM` where there is one, so that it dies with flanneld even when flanneld is
 * killed; its output goes to our log at debug level, with the PSK blanked should it ever appear.
 */
export const spawnCharon: CharonLauncher = async ({ logger, psk, signal }) => {
  const charon = findCharon();
  const dir = runDir();
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const socket = join(dir, 'charon.vici');
  const conf = join(dir, 'strongswan.conf');
  writeFileSync(conf, charonConf(socket), { mode: 0o600 });
  const setpriv = ['/usr/bin/setpriv', '/bin/setpriv'].find((p) => {
    try {
      accessSync(p, constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
  const [file, args] = setpriv ? [setpriv, ['--pdeathsig', 'TERM', '--', charon]] : [charon, []];
  const child = spawn(file, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, STRONGSWAN_CONF: conf } });
  const tail: string[] = [];
  const exited = new Promise<string>((resolve) => {
    child.once('error', (err) => resolve(`could not start: ${err.message}`));
    child.once('exit', (code, sig) => resolve(sig ? `killed by ${sig}` : `exited with code ${code}`));
  });
  for (const stream of [child.stdout!, child.stderr!]) {
    createInterface({ input: stream }).on('line', (line) => {
      const safe = psk.redact(line);
      tail.push(safe);
      if (tail.length > 20) tail.shift();
      logger.debug({ charon: safe }, 'charon');
    });
  }
  const onExit = () => child.kill('SIGTERM');
  process.once('exit', onExit);
  void exited.then(() => process.off('exit', onExit));
  const instance = (session: IkeSession): CharonInstance => ({
    session,
    pid: child.pid,
    exited,
    stop: (graceMs = 5000) => stopChild(child, exited, graceMs),
  });
  logger.info({ charon, pid: child.pid, config: conf, vici: socket }, 'started charon');
  const started = Date.now();
  for (;;) {
    const why = await Promise.race([exited, new Promise<undefined>((r) => setTimeout(() => r(undefined), 50))]);
    if (why !== undefined) {
      throw new Error(`charon (${charon}) ${why} before opening its VICI socket ${socket}; its last words: ${tail.slice(-5).join(' | ') || '(none)'}`);
    }
    if (signal.aborted) {
      await stopChild(child, exited, 2000);
      throw new Error('stopped while charon was starting');
    }
    try {
      const client = await ViciClient.connect(socket, { timeoutMs: 10_000 });
      logger.info({ pid: child.pid, ms: Date.now() - started }, 'connected to charon over VICI');
      return instance(viciSession(client));
    } catch (err) {
      if (Date.now() - started > START_TIMEOUT_MS) {
        await stopChild(child, exited, 2000);
        throw new Error(`charon did not open its VICI socket ${socket} within ${START_TIMEOUT_MS / 1000} s: ${(err as Error).message}`);
      }
    }
  }
};

async function stopChild(child: ChildProcess, exited: Promise<string>, graceMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}
