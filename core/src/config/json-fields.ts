import { UserError } from '../errors/user-error.js';
import { KEY_ORDER, type OrderedObject } from './ordered-json.js';

export type FoldedFields<K extends string> = Partial<Record<K, unknown>> & { readonly unknown?: string[] };

/**
 * Go's encoding/json matches object keys to struct fields case-insensitively (an exact match first).
 * net-conf.json and stored lease values written for Go flannel rely on that, so we do the same.
 * Returns the known fields under their canonical names; `unknown` lists keys that matched nothing.
 */
export function foldKeys<K extends string>(obj: Record<string, unknown>, fields: readonly K[]): FoldedFields<K> {
  const out: Record<string, unknown> = {};
  const names = fields as readonly string[];
  let unknown: string[] | undefined;
  // Each key is assigned in document order, so the last key that names a field wins, as in Go. A plain
  // object is walked with for-in (own keys, in order) rather than Object.entries: every peer's lease
  // comes through here, and the array of pairs was its garbage.
  const ordered = (obj as OrderedObject)[KEY_ORDER];
  if (ordered) for (const [key, value] of ordered) unknown = assign(out, names, key, value, unknown);
  else for (const key in obj) if (Object.hasOwn(obj, key)) unknown = assign(out, names, key, obj[key], unknown);
  if (unknown) out.unknown = unknown;
  return out as FoldedFields<K>;
}

/** Sets `key`'s field in `out`, or adds the key to the unknown ones (returned, made on the first). */
function assign(out: Record<string, unknown>, fields: readonly string[], key: string, value: unknown, unknown: string[] | undefined): string[] | undefined {
  const field = fields.includes(key) ? key : fields.find((f) => f.toLowerCase() === key.toLowerCase());
  if (field !== undefined) {
    out[field] = value;
    return unknown;
  }
  if (!unknown) return [key];
  if (!unknown.includes(key)) unknown.push(key);
  return unknown;
}

/** Parsers of a backend's net-conf fields (`Backend.FIELD`); absent means undefined or null. */
export interface BackendFieldParsers {
  /** A whole number from `min` to `max`, or `dflt` when absent. */
  uint(field: string, value: unknown, dflt: number, min: number, max: number): number;
  /** true or false, or false when absent. */
  bool(field: string, value: unknown): boolean;
}

/**
 * Field parsers for the backend named `backend` in their errors: a wrong value is a UserError naming
 * `Backend.FIELD`, in Go flannel's words ("error decoding VXLAN backend config: …"), with how to fix it.
 */
export function backendFieldParsers(backend: string): BackendFieldParsers {
  const problem = (value: unknown, what: string) => `error decoding ${backend} backend config: ${JSON.stringify(value)} is not ${what}`;
  return {
    uint(field, value, dflt, min, max) {
      if (value === undefined || value === null) return dflt;
      if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
        throw new UserError(
          `Backend.${field}`,
          problem(value, `a whole number from ${min} to ${max}`),
          `set ${field} to a number in that range, or leave it out`,
        );
      }
      return value;
    },
    bool(field, value) {
      if (value === undefined || value === null) return false;
      if (typeof value !== 'boolean') throw new UserError(`Backend.${field}`, problem(value, 'true or false'), `write ${field}: true or ${field}: false`);
      return value;
    },
  };
}
