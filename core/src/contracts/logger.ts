/** The logging surface the code depends on; pino's Logger satisfies it, and tests pass a recorder. */
export interface Logger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
  child(bindings: Record<string, unknown>): Logger;
}
export const Logger = Symbol.for('flannel-ts.Logger');
