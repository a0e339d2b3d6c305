/**
 * Why a VICI call failed:
 * - `failed`: charon answered `success = no` (its `errmsg` is in the message and in `errmsg`);
 * - `unknown-command`: charon has no such command (CMD_UNKNOWN);
 * - `unknown-event`: charon has no such event to register for (EVENT_UNKNOWN);
 * - `connect`: the socket could not be opened;
 * - `closed`: the connection ended (charon died, `close()` was called, or an error below closed it);
 * - `timeout`: no answer in time; the connection is closed, since answers carry no request id;
 * - `protocol`: charon sent bytes that are not valid VICI; the connection is closed;
 * - `encoding`: the message we were asked to send cannot be encoded (nothing was sent).
 */
export type ViciErrorKind = 'failed' | 'unknown-command' | 'unknown-event' | 'connect' | 'closed' | 'timeout' | 'protocol' | 'encoding';

/**
 * Every error of this package. Its message names the command and never holds a value from the request
 * (a `load-shared` request carries a PSK): only key names, lengths and charon's own error text, with any
 * secret of the request replaced by `(redacted)`.
 */
export class ViciError extends Error {
  override readonly name = 'ViciError';
  readonly kind: ViciErrorKind;
  /** The command (`load-conn`), or `register <event>` / `unregister <event>`, or `connect`. */
  readonly command: string;
  /** charon's `errmsg` for kind `failed`, when it sent one. */
  readonly errmsg: string | undefined;

  constructor(kind: ViciErrorKind, command: string, message: string, opts: { errmsg?: string | undefined; cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.kind = kind;
    this.command = command;
    this.errmsg = opts.errmsg;
  }
}

/** `text` with every occurrence of each non-empty secret replaced, so that no error can echo one. */
export function redact(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const s of secrets) if (s.length > 0) out = out.split(s).join('(redacted)');
  return out;
}

/** Thrown by the decoders for bytes that are not valid VICI; the client turns it into a `protocol` ViciError. */
export class MalformedVici extends Error {
  override readonly name = 'MalformedVici';
}

/** Thrown by the encoders for a message that cannot be put on the wire; the client turns it into an `encoding` ViciError. */
export class UnencodableVici extends Error {
  override readonly name = 'UnencodableVici';
}
