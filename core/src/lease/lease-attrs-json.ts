import type { JsonValue, LeaseAttrs } from '../contracts/lease.js';
import { IP } from '../ip/ip.js';
import { foldKeys } from '../config/json-fields.js';

/**
 * The LeaseAttrs JSON that Go flannel stores in etcd, e.g.
 * `{"PublicIP":"192.168.64.3","PublicIPv6":null,"BackendType":"vxlan","BackendData":{"VNI":1,"VtepMAC":"…"}}`.
 * PublicIP and PublicIPv6 are always written; the rest only when set. Reading matches field names
 * case-insensitively, as Go's encoding/json does.
 */
export function encodeLeaseAttrs(attrs: LeaseAttrs): string {
  const out: Record<string, JsonValue> = {
    PublicIP: (attrs.publicIP ?? IP.v4(0)).toString(),
    PublicIPv6: attrs.publicIPv6 ? attrs.publicIPv6.toString() : null,
  };
  if (attrs.backendType) out.BackendType = attrs.backendType;
  if (attrs.backendData !== undefined && attrs.backendData !== null) out.BackendData = attrs.backendData;
  if (attrs.backendV6Data !== undefined && attrs.backendV6Data !== null) out.BackendV6Data = attrs.backendV6Data;
  return JSON.stringify(out);
}

export class LeaseAttrsError extends Error {
  override readonly name = 'LeaseAttrsError';
}

/** Parses a stored LeaseAttrs value; throws LeaseAttrsError naming the bad field. */
export function decodeLeaseAttrs(text: string): LeaseAttrs {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new LeaseAttrsError(`lease attributes are not valid JSON: ${(err as Error).message}`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new LeaseAttrsError('lease attributes must be a JSON object');
  }
  const f = foldKeys(raw as Record<string, unknown>, ['PublicIP', 'PublicIPv6', 'BackendType', 'BackendData', 'BackendV6Data']);
  const attrs: LeaseAttrs = {};
  const publicIP = parseIPField('PublicIP', f.PublicIP, 4);
  if (publicIP && !publicIP.isUnspecified()) attrs.publicIP = publicIP;
  const publicIPv6 = parseIPField('PublicIPv6', f.PublicIPv6, 6);
  if (publicIPv6) attrs.publicIPv6 = publicIPv6;
  if (f.BackendType !== undefined && f.BackendType !== null) {
    if (typeof f.BackendType !== 'string') throw new LeaseAttrsError('BackendType must be a string');
    if (f.BackendType !== '') attrs.backendType = f.BackendType;
  }
  if (f.BackendData !== undefined && f.BackendData !== null) attrs.backendData = f.BackendData as JsonValue;
  if (f.BackendV6Data !== undefined && f.BackendV6Data !== null) attrs.backendV6Data = f.BackendV6Data as JsonValue;
  return attrs;
}

function parseIPField(name: string, value: unknown, family: 4 | 6): IP | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw new LeaseAttrsError(`${name} must be a string holding an IPv${family} address`);
  const ip = IP.tryParse(value);
  if (!ip || ip.family !== family) throw new LeaseAttrsError(`${name} ${JSON.stringify(value)} is not an IPv${family} address`);
  return ip;
}

/** Whether two attribute sets would be stored as the same value. */
export function sameLeaseAttrs(a: LeaseAttrs, b: LeaseAttrs): boolean {
  return encodeLeaseAttrs(a) === encodeLeaseAttrs(b);
}
