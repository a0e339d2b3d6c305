/** Backend types that ship with flannel-ts; each lives in the package `@flannel-ts/<type>`. */
export const BUILTIN_BACKENDS = ['vxlan', 'host-gw', 'ipip', 'udp', 'ipsec', 'wireguard'] as const;

export function isBuiltinBackend(type: string): boolean {
  return (BUILTIN_BACKENDS as readonly string[]).includes(type);
}
