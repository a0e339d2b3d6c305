import { chmodSync, type Dirent, mkdirSync, readdirSync, statSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from './atomic-write.js';
import { readRegularFile } from './bounded-read.js';
import { CNI_ERR, CniError } from './cni-error.js';
import { isObject } from './json.js';
import { CNI_NAME, MAX_IFNAME_BYTES } from './runtime-env.js';

/**
 * One attachment's saved delegate config lives in `<dataDir>/<network>:<containerID>:<ifname>`. Neither
 * a network name, a container ID nor an interface name may hold `:`, so the name parses back without
 * ambiguity (GC needs that), and one container can sit on several flannel networks, or on one network
 * twice. Go's plugin (and this one before) used `<dataDir>/<containerID>`; DEL and CHECK still read that.
 */
export interface StateKey {
  network: string;
  containerID: string;
  ifname: string;
}

const MAX_NAME_BYTES = 255;

export const stateFileName = (k: StateKey) => `${k.network}:${k.containerID}:${k.ifname}`;

export const statePath = (dataDir: string, k: StateKey) => join(dataDir, stateFileName(k));

export function parseStateFileName(name: string): StateKey | undefined {
  const parts = name.split(':');
  if (parts.length !== 3) return undefined;
  const [network, containerID, ifname] = parts as [string, string, string];
  if (!CNI_NAME.test(network) || !CNI_NAME.test(containerID)) return undefined;
  if (ifname === '' || ifname === '.' || ifname === '..' || Buffer.byteLength(ifname) > MAX_IFNAME_BYTES || /[/\s]/u.test(ifname)) return undefined;
  return { network, containerID, ifname };
}

/** Checked before anything is written: a name the file system refuses would fail ADD half-way. */
export function checkStateKey(k: StateKey): void {
  const bytes = Buffer.byteLength(stateFileName(k)) + 16; // room for the temporary file's suffix
  if (bytes > MAX_NAME_BYTES) {
    throw new CniError(
      CNI_ERR.invalidEnv,
      'the network name and CNI_CONTAINERID are too long together',
      `a state file name may have ${MAX_NAME_BYTES} bytes; this one needs ${bytes}`,
    );
  }
}

/** A state file as read: its text, or why it cannot be used (a symlink, not a regular file, too large). */
export type LoadedState = { path: string; text: string; legacy: boolean } | { path: string; unusable: string };

/**
 * Saves `text` for `key`, replacing any earlier file atomically and durably, so a crash never leaves
 * half a config for DEL to choke on, and a symlink planted at the path is replaced, never followed.
 */
export function saveState(dataDir: string, key: StateKey, text: string): void {
  try {
    ensureDataDir(dataDir);
    writeFileAtomic(dataDir, stateFileName(key), text, true);
  } catch (err) {
    throw new CniError(CNI_ERR.io, `cannot save the delegate config in ${dataDir}: ${(err as Error).message}`, 'check that dataDir is a writable directory');
  }
}

/** Makes dataDir (0700), or tightens an existing one to 0700: state files hold the network's config. */
export function ensureDataDir(dataDir: string): void {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const st = statSync(dataDir);
  if (!st.isDirectory()) throw new Error(`${dataDir} is not a directory`);
  if ((st.mode & 0o777) !== 0o700) chmodSync(dataDir, 0o700);
}

/** The state for `key`, falling back to the old layout's file when that one belongs to the same network. */
export function loadState(dataDir: string, key: StateKey): LoadedState | undefined {
  const current = readState(statePath(dataDir, key));
  if (current) return current;
  const legacy = readState(join(dataDir, key.containerID));
  if (!legacy || 'unusable' in legacy) return undefined;
  try {
    const saved: unknown = JSON.parse(legacy.text);
    if (isObject(saved) && saved.name === key.network) return { ...legacy, legacy: true };
  } catch {
    // not ours to judge: it may belong to another network that shares the dataDir
  }
  return undefined;
}

export function readState(path: string): LoadedState | undefined {
  try {
    return { path, text: readRegularFile(path, { noFollow: true }), legacy: false };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    return { path, unusable: code === 'ELOOP' ? `${path} is a symlink, which is never followed` : (err as Error).message };
  }
}

export function removeState(path: string): void {
  try {
    unlinkSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}

/** This network's attachments that have a state file; anything else in dataDir is left alone. */
export function listState(dataDir: string, network: string): StateKey[] {
  let entries: Dirent[];
  try {
    entries = readdirSync(dataDir, { withFileTypes: true });
  } catch {
    return [];
  }
  const keys: StateKey[] = [];
  for (const e of entries) {
    if (!e.isFile()) continue;
    const key = parseStateFileName(e.name);
    if (key?.network === network) keys.push(key);
  }
  return keys;
}
