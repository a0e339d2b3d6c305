import { closeSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { CNI_ERR, CniError } from './cni-error.js';

/** The delegate config saved per container in dataDir (0700), one file each (0600, fsynced), for DEL and CHECK. */
export function saveState(dataDir: string, containerID: string, text: string): void {
  try {
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    const fd = openSync(join(dataDir, containerID), 'w', 0o600);
    try {
      writeSync(fd, text);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch (err) {
    throw new CniError(CNI_ERR.io, `cannot save the delegate config in ${dataDir}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, 'check that the dataDir is writable');
  }
}

export function loadState(dataDir: string, containerID: string): string | undefined {
  try {
    return readFileSync(join(dataDir, containerID), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new CniError(CNI_ERR.io, `cannot read ${join(dataDir, containerID)}: ${(err as Error).message}`);
  }
}

export function removeState(dataDir: string, containerID: string): void {
  rmSync(join(dataDir, containerID), { force: true });
}

export function listState(dataDir: string): string[] {
  try {
    return readdirSync(dataDir);
  } catch {
    return [];
  }
}
