import { pino, type Level } from 'pino';
import type { Logger } from '../contracts/logger.js';

export const LOG_LEVELS: readonly Level[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace'];

/** Structured logs, one JSON object per line, on stderr (stdout stays free for command output). */
export function createLogger(level: Level = 'info', destination: NodeJS.WritableStream = process.stderr): Logger {
  return pino({ level, base: { name: 'flanneld' } }, destination);
}
