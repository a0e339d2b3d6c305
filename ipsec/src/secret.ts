import { inspect } from 'node:util';

const REDACTED = '[redacted PSK]';

/**
 * The ipsec PSK. Every way a value ends up in a log line or an error (string conversion, JSON, util.inspect,
 * template literals) prints a placeholder; only `reveal()` gives the text, and only the VICI load-shared
 * request calls it.
 */
export class IpsecSecret {
  readonly #text: string;

  constructor(text: string) {
    this.#text = text;
  }

  get length(): number {
    return this.#text.length;
  }

  reveal(): string {
    return this.#text;
  }

  /** `text` with every occurrence of the secret replaced, for lines that come from elsewhere (charon's output, its errors). */
  redact(text: string): string {
    return text.includes(this.#text) ? text.split(this.#text).join(REDACTED) : text;
  }

  toString(): string {
    return REDACTED;
  }

  toJSON(): string {
    return REDACTED;
  }

  [inspect.custom](): string {
    return REDACTED;
  }
}
