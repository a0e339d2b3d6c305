// VICI messages: a tree of sections holding key-values, lists of values, and sub-sections.
import { isUtf8 } from 'node:buffer';
import { MalformedVici, UnencodableVici } from './errors.js';
import { Element, MAX_NAME, MAX_VALUE } from './protocol.js';

/** A value in a message. Lists hold strings and Buffers only (the protocol has no nested lists or sections in lists). */
export type ViciValue = string | Buffer | ViciValue[] | ViciSection;
export interface ViciSection {
  [key: string]: ViciValue;
}

/**
 * Encodes `section` as a message. Strings are sent as UTF-8, Buffers as they are; keys whose value is
 * `undefined` are left out (handy for optional fields). Errors name the key path, never a value.
 */
export function encodeMessage(section: ViciSection): Buffer {
  const out: Buffer[] = [];
  encodeSection(section, '', out);
  return Buffer.concat(out);
}

function encodeSection(section: ViciSection, path: string, out: Buffer[]): void {
  if (!isPlainSection(section)) throw new UnencodableVici(`${path === '' ? 'the message' : `"${path}"`} is not an object of vici values`);
  for (const [key, value] of Object.entries(section) as [string, ViciValue | undefined][]) {
    if (value === undefined) continue;
    const at = path === '' ? key : `${path}.${key}`;
    if (typeof value === 'string' || Buffer.isBuffer(value)) {
      out.push(Buffer.of(Element.KEY_VALUE), name(key, at), blob(value, at));
    } else if (Array.isArray(value)) {
      out.push(Buffer.of(Element.LIST_START), name(key, at));
      value.forEach((item, i) => {
        if (typeof item !== 'string' && !Buffer.isBuffer(item)) {
          throw new UnencodableVici(`"${at}[${i}]" is a ${describe(item)}: vici lists hold only strings and Buffers`);
        }
        out.push(Buffer.of(Element.LIST_ITEM), blob(item, `${at}[${i}]`));
      });
      out.push(Buffer.of(Element.LIST_END));
    } else if (isPlainSection(value)) {
      out.push(Buffer.of(Element.SECTION_START), name(key, at));
      encodeSection(value, at, out);
      out.push(Buffer.of(Element.SECTION_END));
    } else {
      throw new UnencodableVici(`"${at}" is a ${describe(value)}: a vici value is a string, a Buffer, a list or a section (numbers go as strings)`);
    }
  }
}

function name(key: string, at: string): Buffer {
  const bytes = Buffer.from(key, 'utf8');
  if (bytes.length > MAX_NAME)
    throw new UnencodableVici(`the key name of "${at.slice(0, 40)}…" is ${bytes.length} bytes long; vici names hold at most ${MAX_NAME}`);
  return Buffer.concat([Buffer.of(bytes.length), bytes]);
}

function blob(value: string | Buffer, at: string): Buffer {
  const bytes = typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
  if (bytes.length > MAX_VALUE) throw new UnencodableVici(`the value of "${at}" is ${bytes.length} bytes long; vici values hold at most ${MAX_VALUE}`);
  const len = Buffer.alloc(2);
  len.writeUInt16BE(bytes.length);
  return Buffer.concat([len, bytes]);
}

function isPlainSection(v: unknown): v is ViciSection {
  if (typeof v !== 'object' || v === null || Array.isArray(v) || Buffer.isBuffer(v)) return false;
  const proto = Object.getPrototypeOf(v) as unknown;
  return proto === Object.prototype || proto === null;
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'list';
  if (typeof v === 'object') return isPlainSection(v) ? 'section' : `${(v as object).constructor?.name ?? 'object'}`;
  return typeof v;
}

/**
 * Decodes a message. A value that is valid UTF-8 becomes a string (charon sends only strings), anything
 * else a Buffer of its own (a copy: nothing keeps the packet alive). Throws MalformedVici, naming the
 * byte offset, for anything the README calls invalid: truncated names or values, unknown element types,
 * unbalanced sections, elements in a list other than items, items outside a list, duplicate keys.
 */
export function decodeMessage(buf: Buffer): ViciSection {
  const root: ViciSection = {};
  const stack: ViciSection[] = [root];
  let list: { key: string; items: (string | Buffer)[] } | undefined;
  let pos = 0;

  const fail = (at: number, why: string): never => {
    throw new MalformedVici(`at byte ${at} of ${buf.length}: ${why}`);
  };
  const readName = (): string => {
    if (pos >= buf.length) fail(pos, 'a name length is missing');
    const len = buf[pos]!;
    if (pos + 1 + len > buf.length) fail(pos, `a name of ${len} bytes runs past the end`);
    const n = buf.toString('utf8', pos + 1, pos + 1 + len);
    pos += 1 + len;
    return n;
  };
  const readValue = (): string | Buffer => {
    if (pos + 2 > buf.length) fail(pos, 'a value length is missing');
    const len = buf.readUInt16BE(pos);
    if (pos + 2 + len > buf.length) fail(pos, `a value of ${len} bytes runs past the end`);
    const bytes = buf.subarray(pos + 2, pos + 2 + len);
    pos += 2 + len;
    return isUtf8(bytes) ? bytes.toString('utf8') : Buffer.from(bytes);
  };
  const put = (at: number, key: string, value: ViciValue): void => {
    const section = stack[stack.length - 1]!;
    if (Object.prototype.hasOwnProperty.call(section, key)) fail(at, `the key "${key}" appears twice in one section`);
    // defineProperty, not assignment: a key named "__proto__" must become a key, not a prototype.
    Object.defineProperty(section, key, { value, enumerable: true, writable: true, configurable: true });
  };

  while (pos < buf.length) {
    const at = pos;
    const type = buf[pos++]!;
    if (list !== undefined && type !== Element.LIST_ITEM && type !== Element.LIST_END) {
      fail(at, `element type ${type} inside the list "${list.key}" (only items and the list's end may appear there)`);
    }
    switch (type) {
      case Element.SECTION_START: {
        const key = readName();
        const section: ViciSection = {};
        put(at, key, section);
        stack.push(section);
        break;
      }
      case Element.SECTION_END:
        if (stack.length === 1) fail(at, 'a section end with no section open');
        stack.pop();
        break;
      case Element.KEY_VALUE: {
        const key = readName();
        put(at, key, readValue());
        break;
      }
      case Element.LIST_START: {
        const key = readName();
        list = { key, items: [] };
        put(at, key, list.items);
        break;
      }
      case Element.LIST_ITEM:
        if (list === undefined) fail(at, 'a list item outside a list');
        list!.items.push(readValue());
        break;
      case Element.LIST_END:
        if (list === undefined) fail(at, 'a list end with no list open');
        list = undefined;
        break;
      default:
        fail(at, `unknown element type ${type}`);
    }
  }
  if (list !== undefined) fail(pos, `the list "${list.key}" is not closed`);
  if (stack.length > 1) fail(pos, `${stack.length - 1} section(s) not closed`);
  return root;
}
