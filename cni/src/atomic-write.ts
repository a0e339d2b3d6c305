import { closeSync, constants, fsyncSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Writes `dir/name` (0600) through a temporary file and a rename: readers see the old file or the whole
 * new one, never half of it, and a symlink planted at the path is replaced rather than written through.
 * `durable` fsyncs the data first, for files whose loss after a crash would cost more than a retry.
 */
export function writeFileAtomic(dir: string, name: string, text: string, durable: boolean): void {
  // A leading dot keeps the temporary file from ever looking like an attachment's state.
  const tmp = join(dir, `.${name}.${process.pid}.tmp`);
  unlinkQuietly(tmp); // left by a crashed run that had our pid
  try {
    const fd = openSync(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
    try {
      writeSync(fd, text);
      if (durable) fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, join(dir, name));
  } catch (err) {
    unlinkQuietly(tmp);
    throw err;
  }
}

function unlinkQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // it was never created
  }
}
