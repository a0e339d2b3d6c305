import { pino, stdTimeFunctions, type Level } from 'pino';
import type { Logger } from '../contracts/logger.js';

export const LOG_LEVELS: readonly Level[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace'];
export const LOG_FORMATS = ['json', 'text'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

/** A sink with pino's synchronous write(line). */
interface LineSink {
  write(line: string): unknown;
}

/**
 * Structured logs on stderr (stdout stays free for command output), with ISO times and level names:
 * one JSON object per line (`json`), or `<time> <LEVEL> <message> key=value ...` (`text`).
 */
export function createLogger(level: Level = 'info', destination: LineSink = process.stderr, format: LogFormat = 'json'): Logger {
  const sink = format === 'text' ? textSink(destination) : destination;
  return pino(
    {
      level,
      base: { name: 'flanneld' },
      timestamp: stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    sink as NodeJS.WritableStream,
  );
}

/** JSON when stderr is not a terminal (a journal, a container log), text on a terminal. */
export function defaultLogFormat(stream: { isTTY?: boolean } = process.stderr): LogFormat {
  return stream.isTTY ? 'text' : 'json';
}

const OMIT = new Set(['time', 'level', 'msg', 'name', 'pid', 'hostname']);

/** pino's JSON line as one text line: `2026-01-02T03:04:05.678Z WARN  message key=value key="a b"`. */
export function formatLogLine(json: string): string {
  let rec: Record<string, unknown>;
  try {
    rec = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return json.endsWith('\n') ? json : `${json}\n`;
  }
  const fields = Object.entries(rec)
    .filter(([k]) => !OMIT.has(k))
    .map(([k, v]) => `${k}=${formatValue(v)}`);
  const level = String(rec.level ?? 'info').toUpperCase();
  return `${String(rec.time ?? '')} ${level.padEnd(5)} ${String(rec.msg ?? '')}${fields.length ? ` ${fields.join(' ')}` : ''}\n`;
}

function formatValue(v: unknown): string {
  if (typeof v === 'string') return /^[^\s"=]+$/.test(v) ? v : JSON.stringify(v);
  if (typeof v === 'number' || typeof v === 'boolean' || v === null) return String(v);
  return JSON.stringify(v);
}

function textSink(out: LineSink): LineSink {
  return { write: (line: string) => out.write(formatLogLine(line)) };
}
