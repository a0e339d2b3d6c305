import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';

/** The most we read of stdin, subnet.env or a state file: far above any real one, far below trouble. */
export const MAX_INPUT_BYTES = 1 << 20;

export class TooLargeError extends Error {}
export class NotRegularFileError extends Error {}

const CHUNK = 64 << 10;

/**
 * Reads `fd` to its end, but never more than `max` bytes: /dev/zero or a runaway writer must not exhaust
 * memory. A non-blocking descriptor that runs dry before its end is waited on, a millisecond at a time.
 */
export function readFdBounded(fd: number, max = MAX_INPUT_BYTES): string {
  const chunks: Buffer[] = [];
  let total = 0;
  for (;;) {
    const buf = Buffer.allocUnsafe(Math.min(CHUNK, max + 1 - total));
    let n: number;
    try {
      n = readSync(fd, buf, 0, buf.length, null);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') throw err;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1);
      continue;
    }
    if (n === 0) break;
    chunks.push(buf.subarray(0, n));
    total += n;
    if (total > max) throw new TooLargeError(`more than ${max} bytes`);
  }
  return Buffer.concat(chunks, total).toString('utf8');
}

/**
 * Reads a regular file of at most `max` bytes. Opened non-blocking so that a FIFO planted at the path
 * cannot hang us; `noFollow` refuses a symlink at the last component (ELOOP).
 */
export function readRegularFile(path: string, opts: { noFollow?: boolean; max?: number } = {}): string {
  const flags = constants.O_RDONLY | constants.O_NONBLOCK | (opts.noFollow ? constants.O_NOFOLLOW : 0);
  const fd = openSync(path, flags);
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new NotRegularFileError(`${path} is not a regular file`);
    const max = opts.max ?? MAX_INPUT_BYTES;
    if (st.size > max) throw new TooLargeError(`${path} is larger than ${max} bytes`);
    return readFdBounded(fd, max);
  } finally {
    closeSync(fd);
  }
}
