/**
 * Every key of a JSON object in document order, duplicates included. JSON.parse keeps only the last value
 * of a repeated key, at the place of its first occurrence, which is not what Go's encoding/json sees: it
 * assigns each key in order, so the last key that matches a field (exactly or ignoring case) wins.
 */
export const KEY_ORDER = Symbol('json key order');

export type OrderedObject = Record<string, unknown> & { [KEY_ORDER]?: [string, unknown][] };

// Sticky: each matches at lastIndex only, so a large document is scanned once.
const LITERAL = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?|true|false|null/y;
const STRING = /"(?:[^"\\\u0000-\u001f]|\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4}))*"/y;

/** JSON.parse, but objects also carry their keys and values in document order under KEY_ORDER. */
export function parseOrderedJson(text: string): unknown {
  let i = 0;
  const fail = (what: string): never => {
    throw new SyntaxError(`${what} at position ${i}`);
  };
  const ws = () => {
    while (i < text.length && ' \t\n\r'.includes(text[i]!)) i++;
  };
  const value = (): unknown => {
    ws();
    const c = text[i];
    if (c === '{') return object();
    if (c === '[') return array();
    if (c === '"') return string();
    LITERAL.lastIndex = i;
    const m = LITERAL.exec(text);
    if (!m) return fail(c === undefined ? 'Unexpected end of JSON input' : `Unexpected token ${JSON.stringify(c)}`);
    i += m[0].length;
    return JSON.parse(m[0]) as unknown;
  };
  const string = (): string => {
    STRING.lastIndex = i;
    const m = STRING.exec(text);
    if (!m) return fail('Bad string');
    i += m[0].length;
    return JSON.parse(m[0]) as string;
  };
  const object = (): OrderedObject => {
    i++;
    const obj: OrderedObject = {};
    const order: [string, unknown][] = [];
    ws();
    if (text[i] === '}') {
      i++;
    } else {
      for (;;) {
        ws();
        if (text[i] !== '"') fail('Expected a key');
        const key = string();
        ws();
        if (text[i++] !== ':') fail('Expected ":"');
        const v = value();
        order.push([key, v]);
        Object.defineProperty(obj, key, { value: v, enumerable: true, writable: true, configurable: true });
        ws();
        const sep = text[i++];
        if (sep === '}') break;
        if (sep !== ',') fail('Expected "," or "}"');
      }
    }
    Object.defineProperty(obj, KEY_ORDER, { value: order, enumerable: false });
    return obj;
  };
  const array = (): unknown[] => {
    i++;
    const out: unknown[] = [];
    ws();
    if (text[i] === ']') {
      i++;
      return out;
    }
    for (;;) {
      out.push(value());
      ws();
      const sep = text[i++];
      if (sep === ']') return out;
      if (sep !== ',') fail('Expected "," or "]"');
    }
  };
  const result = value();
  ws();
  if (i < text.length) fail(`Unexpected token ${JSON.stringify(text[i])}`);
  return result;
}
