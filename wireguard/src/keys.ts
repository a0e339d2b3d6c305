// The node's WireGuard key pair. The private key lives in a file (Go flannel's /run/flannel/wgkey, or
// WIREGUARD_KEY_FILE), made on first start and read on every start after, so that the public key in our
// lease stays the same across restarts; deleting the file rotates it (the next start makes a new one, and
// peers take the new public key from our lease). The key never reaches a log line or an error message.
import { constants as fsc, closeSync, fchmodSync, fstatSync, fsyncSync, lstatSync, mkdirSync, openSync, readSync, writeSync, chmodSync } from 'node:fs';
import { createPrivateKey, createPublicKey, generateKeyPairSync } from 'node:crypto';
import { dirname } from 'node:path';
import { UserError, type Logger } from '@flannel-ts/core';
import { WgSecret } from '@flannel-ts/core/netlink';

export const DEFAULT_KEY_FILE = '/run/flannel/wgkey';
/** The environment variable Go flannel reads the key file's path from. */
export const KEY_FILE_ENV = 'WIREGUARD_KEY_FILE';

export function keyFilePath(env: NodeJS.ProcessEnv = process.env): string {
  return env[KEY_FILE_ENV] || DEFAULT_KEY_FILE;
}

// DER prefixes of an X25519 key (RFC 8410): PKCS#8 private key and SubjectPublicKeyInfo, then 32 raw bytes.
const PKCS8_X25519 = Buffer.from('302e020100300506032b656e04220420', 'hex');
const SPKI_X25519 = Buffer.from('302a300506032b656e032100', 'hex');

/** Curve25519 clamping, as `wg genkey` and the kernel apply it: the kernel holds (and reports) the clamped key. */
export function clamp(key: WgSecret): WgSecret {
  const b = key.bytes();
  b[0]! &= 248;
  b[31] = (b[31]! & 127) | 64;
  return new WgSecret(b);
}

/** A new private key (X25519 through OpenSSL), clamped like `wg genkey`'s. */
export function generatePrivateKey(): WgSecret {
  const der = generateKeyPairSync('x25519').privateKey.export({ format: 'der', type: 'pkcs8' });
  return clamp(new WgSecret(der.subarray(der.length - 32)));
}

/** The public key of a private key (`wg pubkey`). */
export function publicKeyOf(key: WgSecret): Buffer {
  const priv = createPrivateKey({ key: Buffer.concat([PKCS8_X25519, key.bytes()]), format: 'der', type: 'pkcs8' });
  const spki = createPublicKey(priv).export({ format: 'der', type: 'spki' });
  if (spki.length !== SPKI_X25519.length + 32 || !spki.subarray(0, SPKI_X25519.length).equals(SPKI_X25519))
    throw new Error('unexpected X25519 public key encoding');
  return Buffer.from(spki.subarray(SPKI_X25519.length));
}

const fix = (path: string) =>
  `delete ${path} to have a new key made at the next start (peers take the new public key from our lease), or write a key from \`wg genkey\` into it`;

/**
 * The private key from `path`, made first if the file does not exist: 0400, in a directory made 0755 if
 * missing, created exclusively (another flanneld making it at the same moment wins, and its key is read)
 * and never through a symbolic link. Go flannel can read the file too (the key as base64, no newline).
 */
export function loadOrCreateKey(path: string, logger: Logger): { key: WgSecret; created: boolean } {
  const existing = statOrUndefined(path);
  if (!existing) {
    const key = generatePrivateKey();
    if (writeNewKeyFile(path, key)) {
      logger.info({ file: path }, 'made a new WireGuard private key');
      return { key, created: true };
    }
  }
  return { key: readKeyFile(path, logger), created: false };
}

function statOrUndefined(path: string) {
  try {
    return lstatSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new UserError(
      KEY_FILE_ENV,
      `cannot look at the WireGuard key file ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
      fix(path),
    );
  }
}

/** Writes a new key file; false if another process made it first. */
function writeNewKeyFile(path: string, key: WgSecret): boolean {
  ensureDir(dirname(path));
  let fd: number;
  try {
    fd = openSync(path, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL | fsc.O_NOFOLLOW, 0o400);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw new UserError(
      KEY_FILE_ENV,
      `cannot create the WireGuard key file ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
      'point WIREGUARD_KEY_FILE at a writable place',
    );
  }
  try {
    fchmodSync(fd, 0o400); // whatever the umask
    const text = Buffer.from(key.toBase64());
    if (writeSync(fd, text) !== text.length) throw new Error('short write');
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  return true;
}

function ensureDir(dir: string): void {
  if (statOrUndefined(dir)) return;
  ensureDir(dirname(dir));
  try {
    mkdirSync(dir, { mode: 0o755 });
    chmodSync(dir, 0o755); // whatever the umask
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') {
      throw new UserError(
        KEY_FILE_ENV,
        `cannot create ${dir} for the WireGuard key file: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
        'point WIREGUARD_KEY_FILE at a writable place',
      );
    }
  }
}

function readKeyFile(path: string, logger: Logger): WgSecret {
  let fd: number;
  try {
    fd = openSync(path, fsc.O_RDONLY | fsc.O_NOFOLLOW | fsc.O_NONBLOCK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    const why = code === 'ELOOP' ? 'it is a symbolic link, which is not followed' : `it cannot be read (${code})`;
    throw new UserError(KEY_FILE_ENV, `the WireGuard key file ${path}: ${why}`, fix(path));
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new UserError(KEY_FILE_ENV, `the WireGuard key file ${path} is not a regular file`, fix(path));
    if ((st.mode & 0o077) !== 0)
      logger.warn({ file: path, mode: (st.mode & 0o777).toString(8) }, 'the WireGuard key file can be read by others than its owner; chmod 0400 it');
    const buf = Buffer.alloc(128);
    const n = readSync(fd, buf, 0, buf.length, 0);
    try {
      return clamp(WgSecret.fromBase64(buf.toString('latin1', 0, n)));
    } catch {
      throw new UserError(
        KEY_FILE_ENV,
        `the WireGuard key file ${path} does not hold a key: 44 characters of base64 (32 bytes) expected, found ${n} bytes`,
        fix(path),
      );
    } finally {
      buf.fill(0);
    }
  } catch (err) {
    if (err instanceof UserError) throw err;
    throw new UserError(
      KEY_FILE_ENV,
      `the WireGuard key file ${path} cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`,
      fix(path),
    );
  } finally {
    closeSync(fd);
  }
}
