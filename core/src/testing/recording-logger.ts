import type { Logger } from '../contracts/logger.js';

/** A logger for tests: keeps every entry so assertions can read what was said. */
export class RecordingLogger implements Logger {
  readonly entries: { level: string; msg?: string | undefined; obj: object }[];

  constructor(
    entries?: { level: string; msg?: string | undefined; obj: object }[],
    private readonly bindings: Record<string, unknown> = {},
  ) {
    this.entries = entries ?? [];
  }

  debug(obj: object, msg?: string) {
    this.record('debug', obj, msg);
  }
  info(obj: object, msg?: string) {
    this.record('info', obj, msg);
  }
  warn(obj: object, msg?: string) {
    this.record('warn', obj, msg);
  }
  error(obj: object, msg?: string) {
    this.record('error', obj, msg);
  }
  child(bindings: Record<string, unknown>): Logger {
    return new RecordingLogger(this.entries, { ...this.bindings, ...bindings });
  }

  messages(level?: string): string[] {
    return this.entries.filter((e) => !level || e.level === level).map((e) => e.msg ?? '');
  }

  private record(level: string, obj: object, msg?: string) {
    this.entries.push({ level, msg, obj: { ...this.bindings, ...obj } });
  }
}
