// What this backend asks of charon, over one VICI connection. The backend talks to this interface, so that
// its tests can stand in for charon; `viciSession` is the real thing over @flannel-ts/vici.
import type { ViciClient, ViciSection, ViciValue } from '@flannel-ts/vici';
import type { IpsecSecret } from './secret.js';

/** One IKE SA as `list-sas` reports it, reduced to what status and metrics show. */
export interface IkeSaState {
  /** The connection it belongs to. */
  conn: string;
  /** CONNECTING, ESTABLISHED, REKEYING, DELETING… */
  state: string;
  remoteHost?: string;
  /** When it was established (now − its `established` seconds); absent until it is. */
  establishedAt?: Date;
  /** Its CHILD_SAs' bytes, summed over the installed ones. */
  bytesIn: number;
  bytesOut: number;
  /** CHILD_SAs in state INSTALLED. */
  installedChildren: number;
}

export interface IkeSession {
  /** Loads (replaces) the IKE PSK for `owners` under `id`. */
  loadShared(id: string, owners: string[], psk: IpsecSecret): Promise<void>;
  unloadShared(id: string): Promise<void>;
  loadConn(name: string, conn: ViciSection): Promise<void>;
  unloadConn(name: string): Promise<void>;
  /** The connections loaded now. */
  conns(): Promise<string[]>;
  listSas(): Promise<IkeSaState[]>;
  /** Resolves when the connection to charon has ended (charon stopped, or close()). */
  readonly closed: Promise<void>;
  close(): void;
}

/** An IkeSession over a VICI client. */
export function viciSession(client: ViciClient, now: () => Date = () => new Date()): IkeSession {
  return {
    loadShared: (id, owners, psk) => client.loadShared({ id, type: 'IKE', data: psk.reveal(), owners }),
    unloadShared: (id) => client.unloadShared(id),
    loadConn: (name, conn) => client.loadConn(name, conn),
    unloadConn: (name) => client.unloadConn(name),
    conns: () => client.getConns(),
    listSas: async () => (await client.listSas()).flatMap((s) => readSas(s, now())),
    closed: client.closed,
    close: () => client.close(),
  };
}

/** One `list-sa` event: `{ <conn>: { state, remote-host, established, child-sas: { <x>: { state, bytes-in, bytes-out } } } }`. */
export function readSas(event: ViciSection, now: Date): IkeSaState[] {
  const out: IkeSaState[] = [];
  for (const [conn, value] of Object.entries(event)) {
    if (!isSection(value)) continue;
    const established = num(value.established);
    let bytesIn = 0;
    let bytesOut = 0;
    let installedChildren = 0;
    const children = value['child-sas'];
    for (const child of isSection(children) ? Object.values(children) : []) {
      if (!isSection(child) || str(child.state) !== 'INSTALLED') continue;
      installedChildren++;
      bytesIn += num(child['bytes-in']) ?? 0;
      bytesOut += num(child['bytes-out']) ?? 0;
    }
    const remoteHost = str(value['remote-host']);
    out.push({
      conn,
      state: str(value.state) ?? 'UNKNOWN',
      ...(remoteHost ? { remoteHost } : {}),
      ...(established !== undefined ? { establishedAt: new Date(now.getTime() - established * 1000) } : {}),
      bytesIn,
      bytesOut,
      installedChildren,
    });
  }
  return out;
}

const isSection = (v: ViciValue | undefined): v is ViciSection => v !== undefined && typeof v === 'object' && !Array.isArray(v) && !Buffer.isBuffer(v);
const str = (v: ViciValue | undefined): string | undefined => (typeof v === 'string' ? v : Buffer.isBuffer(v) ? v.toString('utf8') : undefined);
const num = (v: ViciValue | undefined): number | undefined => {
  const s = str(v);
  if (s === undefined || !/^\d+$/.test(s)) return undefined;
  return Number(s);
};
