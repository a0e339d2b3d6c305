import { KEY_ORDER, type OrderedObject } from './ordered-json.js';

export type FoldedFields<K extends string> = Partial<Record<K, unknown>> & { readonly unknown?: string[] };

/**
 * Go's encoding/json matches object keys to struct fields case-insensitively (an exact match first).
 * net-conf.json and stored lease values written for Go flannel rely on that, so we do the same.
 * Returns the known fields under their canonical names; `unknown` lists keys that matched nothing.
 */
export function foldKeys<K extends string>(obj: Record<string, unknown>, fields: readonly K[]): FoldedFields<K> {
  const out: Record<string, unknown> = {};
  const unknown: string[] = [];
  // Each key is assigned in document order, so the last key that names a field wins, as in Go.
  const entries = (obj as OrderedObject)[KEY_ORDER] ?? Object.entries(obj);
  for (const [key, value] of entries) {
    const field = (fields as readonly string[]).includes(key) ? key : fields.find((f) => f.toLowerCase() === key.toLowerCase());
    if (field === undefined) {
      if (!unknown.includes(key)) unknown.push(key);
    } else {
      out[field] = value;
    }
  }
  if (unknown.length > 0) out.unknown = unknown;
  return out as FoldedFields<K>;
}
