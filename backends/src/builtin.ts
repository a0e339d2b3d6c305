/** Backend types that ship with flannel-ts; each lives in the package `@flannel-ts/<type>`. */
export const BUILTIN_BACKENDS = ['vxlan', 'host-gw', 'ipip', 'udp', 'ipsec', 'extension', 'wireguard'] as const;

/** Go flannel backends that flannel-ts does not have (yet): named in the error instead of "install a plugin". */
export const NOT_YET_BACKENDS = ['alloc', 'tencent-vpc'] as const;

export function isBuiltinBackend(type: string): boolean {
  return (BUILTIN_BACKENDS as readonly string[]).includes(type);
}

/** The built-in type a misspelt Backend.Type most likely meant (edit distance 2 at most), if any. */
export function nearestBuiltin(type: string): string | undefined {
  const t = type.trim().toLowerCase();
  let best: { name: string; d: number } | undefined;
  for (const name of BUILTIN_BACKENDS) {
    const d = editDistance(t, name);
    if (d <= 2 && d < name.length && (!best || d < best.d)) best = { name, d };
  }
  return best?.name;
}

/** Levenshtein distance, with a swap of two neighbours counting as one edit ("vxaln"). */
function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i]![j] = Math.min(d[i]![j]!, d[i - 2]![j - 2]! + 1);
    }
  }
  return d[a.length]![b.length]!;
}
