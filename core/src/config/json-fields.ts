export type FoldedFields<K extends string> = Partial<Record<K, unknown>> & { readonly unknown?: string[] };

/**
 * Go's encoding/json matches object keys to struct fields case-insensitively (an exact match wins).
 * net-conf.json and stored lease values written for Go flannel rely on that, so we do the same.
 * Returns the known fields under their canonical names; `unknown` lists keys that matched nothing.
 */
export function foldKeys<K extends string>(obj: Record<string, unknown>, fields: readonly K[]): FoldedFields<K> {
  const out: Record<string, unknown> = {};
  const unknown: string[] = [];
  const exact = new Set(Object.keys(obj).filter((k) => (fields as readonly string[]).includes(k)));
  for (const [key, value] of Object.entries(obj)) {
    if (exact.has(key)) {
      out[key] = value;
      continue;
    }
    const field = fields.find((f) => f.toLowerCase() === key.toLowerCase());
    if (field === undefined) unknown.push(key);
    else if (!exact.has(field)) out[field] = value;
  }
  if (unknown.length > 0) out.unknown = unknown;
  return out as FoldedFields<K>;
}
