import type { Clock, Logger } from '@flannel-ts/core';
import type { ViciSection } from '@flannel-ts/vici';
import type { IpsecConfig } from './config.js';
import type { IkeSaState, IkeSession } from './ike.js';
import type { IpsecPeer } from './ipsec-dataplane.js';
import { REQID } from './policy-entry.js';

/** Go flannel's IKE proposal (it is not configurable there either). */
export const IKE_PROPOSAL = 'aes256-sha256-modp4096';

/** Go flannel's connection name: `<ourPublicIP>-<ourSubnet>-<remoteSubnet>-<remotePublicIP>`. */
export const connName = (ours: IpsecPeer, peer: IpsecPeer) => `${ours.publicIP}-${ours.subnet}-${peer.subnet}-${peer.publicIP}`;
/** Go flannel's child SA name: `<ourSubnet>-<remoteSubnet>`. */
export const childName = (ours: IpsecPeer, peer: IpsecPeer) => `${ours.subnet}-${peer.subnet}`;
/** The id under which a node's PSK is loaded: one per public IP. */
export const sharedId = (ip: IpsecPeer['publicIP']) => `flannel-${ip}`;

/**
 * The connection to one peer as Go flannel loads it: IKEv2 with the PSK between the two public addresses,
 * retried forever, one tunnel-mode child SA between the two subnets with reqid 11 that charon starts at
 * once and installs no policy for (`policies = no`: the XFRM policies are ours), rekeyed hourly.
 */
export function connSection(ours: IpsecPeer, peer: IpsecPeer, cfg: Pick<IpsecConfig, 'udpEncap' | 'espProposal'>): ViciSection {
  return {
    local_addrs: [String(ours.publicIP)],
    remote_addrs: [String(peer.publicIP)],
    proposals: [IKE_PROPOSAL],
    version: '2',
    keyingtries: '0',
    encap: cfg.udpEncap ? 'yes' : 'no',
    local: { auth: 'psk', id: String(ours.publicIP) },
    remote: { auth: 'psk', id: String(peer.publicIP) },
    children: {
      [childName(ours, peer)]: {
        local_ts: [String(ours.subnet)],
        remote_ts: [String(peer.subnet)],
        esp_proposals: [cfg.espProposal],
        start_action: 'start',
        close_action: 'trap',
        dpd_action: 'restart',
        mode: 'tunnel',
        reqid: String(REQID),
        rekey_time: '1h',
        // Go flannel's install_policy; charon's VICI calls it `policies` (5.9.8 refuses the connection otherwise).
        policies: 'no',
      },
    },
  };
}

interface Wanted {
  peer: IpsecPeer;
  section: ViciSection;
  /** The section as text: a connection is loaded again when it changes. */
  text: string;
}

/** Between two attempts after charon refused something. */
const RETRY_MS = 1000;

/**
 * charon's connections, kept in step with the peer set like the engine keeps the kernel: per peer its PSK
 * (owners = its public IP) and its connection; a peer that leaves is unloaded. charon is not the kernel, so
 * this is a small reconciler of its own: one pass at a time, each peer's state compared with what was loaded
 * in the current charon session, and a session that ends (charon died) forgets everything, so that the next
 * one gets every PSK and connection again.
 */
export class Connections {
  private readonly wanted = new Map<string, Wanted>();
  private session: IkeSession | undefined;
  /** What the current session holds: connection name → section text. */
  private loaded = new Map<string, string>();
  private pass: Promise<void> | undefined;
  private dirty = false;
  private retry: AbortController | undefined;
  private lastSas: IkeSaState[] = [];

  constructor(
    private readonly ours: IpsecPeer,
    private readonly cfg: IpsecConfig,
    private readonly deps: { logger: Logger; clock: Clock },
  ) {}

  /** A peer's connection is wanted (again, or with new attributes). */
  setPeer(peer: IpsecPeer): void {
    const section = connSection(this.ours, peer, this.cfg);
    this.wanted.set(connName(this.ours, peer), { peer, section, text: JSON.stringify(section) });
    this.kick();
  }

  deletePeer(peer: IpsecPeer): void {
    if (this.wanted.delete(connName(this.ours, peer))) this.kick();
  }

  /** Every wanted connection's name, sorted. */
  names(): string[] {
    return [...this.wanted.keys()].sort();
  }

  /**
   * A new charon session: our own PSK first (retried until charon takes it, as Go does), then every peer's
   * PSK and connection. Resolves once our PSK is loaded.
   */
  async attach(session: IkeSession, signal: AbortSignal): Promise<void> {
    this.session = session;
    this.loaded = new Map();
    for (;;) {
      try {
        await session.loadShared(sharedId(this.ours.publicIP), [String(this.ours.publicIP)], this.cfg.psk);
        break;
      } catch (err) {
        this.deps.logger.warn({ err: this.cfg.psk.redact((err as Error).message) }, 'charon did not take our PSK; trying again in 1 s');
        if (!(await this.deps.clock.sleep(RETRY_MS, signal))) return;
      }
    }
    // Whatever an earlier charon left (none: we start our own; a stray one is unloaded).
    const stray = await session.conns().catch(() => []);
    for (const name of stray) this.loaded.set(name, '(loaded before we attached)');
    this.kick();
  }

  /** charon is gone: nothing is loaded anywhere until the next attach. */
  detach(): void {
    this.session = undefined;
    this.loaded = new Map();
    this.retry?.abort();
  }

  /** Resolves when no pass is running or due (tests, and the moment a restart is counted as done). */
  async idle(): Promise<void> {
    while (this.pass) await this.pass;
  }

  /** IKE SA states as last read (status details). */
  lastStates(): IkeSaState[] {
    return this.lastSas;
  }

  /** Reads every IKE SA now; empty while charon is down. */
  async sas(): Promise<IkeSaState[]> {
    if (!this.session) return [];
    try {
      this.lastSas = await this.session.listSas();
    } catch (err) {
      this.deps.logger.debug({ err: (err as Error).message }, 'cannot list the IKE SAs');
      this.lastSas = [];
    }
    return this.lastSas;
  }

  peerOf(conn: string): IpsecPeer | undefined {
    return this.wanted.get(conn)?.peer;
  }

  private kick(): void {
    this.dirty = true;
    this.pass ??= this.run().finally(() => (this.pass = undefined));
  }

  private async run(): Promise<void> {
    while (this.dirty && this.session) {
      this.dirty = false;
      const failed = await this.syncOnce(this.session);
      if (failed > 0 && this.session) this.scheduleRetry();
    }
  }

  private scheduleRetry(): void {
    if (this.retry && !this.retry.signal.aborted) return;
    const retry = new AbortController();
    this.retry = retry;
    void this.deps.clock.sleep(RETRY_MS, retry.signal).then((slept) => {
      if (!slept) return;
      this.retry = undefined;
      this.kick();
    });
  }

  /** One pass: load what is wanted and not loaded (or loaded otherwise), unload what is no longer wanted. */
  private async syncOnce(session: IkeSession): Promise<number> {
    const { logger } = this.deps;
    let failed = 0;
    for (const [name, w] of this.wanted) {
      if (this.loaded.get(name) === w.text || session !== this.session) continue;
      try {
        await session.loadShared(sharedId(w.peer.publicIP), [String(w.peer.publicIP)], this.cfg.psk);
        await session.loadConn(name, w.section);
        this.loaded.set(name, w.text);
        logger.info({ conn: name, peer: String(w.peer.publicIP) }, 'loaded the IPsec connection to a peer');
      } catch (err) {
        failed++;
        logger.warn({ conn: name, err: this.cfg.psk.redact((err as Error).message) }, 'charon refused a connection; trying again');
      }
    }
    for (const name of [...this.loaded.keys()]) {
      if (this.wanted.has(name) || session !== this.session) continue;
      try {
        await session.unloadConn(name);
        this.loaded.delete(name);
        logger.info({ conn: name }, 'unloaded the IPsec connection to a peer that left');
      } catch (err) {
        failed++;
        logger.warn({ conn: name, err: (err as Error).message }, 'charon did not unload a connection; trying again');
      }
      const ip = /-(\d+\.\d+\.\d+\.\d+)$/.exec(name)?.[1];
      // A peer's PSK stays while another connection names its address (a peer that moved subnet).
      if (ip && ![...this.wanted.values()].some((w) => String(w.peer.publicIP) === ip)) {
        await session.unloadShared(`flannel-${ip}`).catch(() => undefined);
      }
    }
    return failed;
  }
}
