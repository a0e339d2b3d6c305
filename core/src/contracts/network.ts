import type { JsonValue, Lease } from './lease.js';

/**
 * One overlay network as a backend programs it. `run` watches peer leases and keeps the kernel in step
 * until `signal` aborts, then resolves.
 */
export interface Network {
  readonly lease: Lease;
  /** Written to subnet.env as FLANNEL_MTU. */
  readonly mtu: number;
  run(signal: AbortSignal): Promise<void>;
  /** Counts for /metrics and status; optional. */
  stats?(): NetworkStats;
  /** The peer table and the engine's progress, for /readyz and `flannelctl status`; optional. */
  status?(): NetworkStatus;
  /** What the kernel holds against what the leases ask for, read now (nothing is written); optional. */
  diff?(): Promise<DataplaneDiff>;
  /** Each tunnel peer's handshake and byte counts, read from the kernel now (wireguard); optional, contract 1.3. */
  peerTraffic?(): Promise<PeerTraffic[]>;
}

/** One peer of a tunnel device with per-peer state in the kernel (a wireguard peer), as read now. */
export interface PeerTraffic {
  /** The device it is on (flannel-wg). */
  device: string;
  /** Its identity on the tunnel: a wireguard public key (base64). */
  publicKey: string;
  /** The subnets it carries (its allowed IPs), which are its lease's subnets. */
  subnets: string[];
  /** Where its packets go (`ip:port`, `[ip6]:port`). */
  endpoint?: string;
  /** ISO time of the latest handshake; absent before the first. */
  latestHandshake?: string;
  rxBytes: number;
  txBytes: number;
}

export interface NetworkStats {
  /** Peers whose subnets are programmed (wholly, or partly: see partialPeers). */
  peers: number;
  /** Peers left out, wholly or partly, e.g. a host-gw peer off our L2 segment, or a lease with malformed data. */
  skippedPeers: number;
  /** Peers counted in both: one family programmed, the other skipped. */
  partialPeers?: number;
  /** The first lease snapshot was compared with the kernel and the difference written. */
  synced?: boolean;
}

export interface PeerStatus {
  subnet?: string;
  ipv6Subnet?: string;
  publicIP?: string;
  publicIPv6?: string;
  backendType?: string;
  backendData?: JsonValue;
  /** programmed: all of it is in the kernel; partial: some of it; skipped: none of it (see problems). */
  state: 'programmed' | 'partial' | 'skipped';
  problems: string[];
  /** How many kernel entries it needs. */
  entries: number;
}

export interface NetworkStatus {
  /** The first full lease listing is applied and compared with the kernel. */
  synced: boolean;
  peers: PeerStatus[];
  /** The last pass of the engine. */
  lastPass?: { kind: 'events' | 'resync'; at: string; operations: number; failed: number; reasons?: string[] };
  /** Repairs since start, by kind (route, neigh, fdb, nexthop, device). */
  repairs: Record<string, number>;
  /** Settings of the backend worth showing an operator (vxlan: its checksum offload decision). */
  details?: Record<string, JsonValue>;
}

export interface DiffEntry {
  /** route, neigh, fdb, nexthop. */
  kind: string;
  key: string;
  /** What the leases ask for (absent for a stale entry). */
  want?: string;
  /** What the kernel holds (absent for a missing entry). */
  have?: string;
  /** The peer (its subnets) that wants it. */
  peer?: string;
}

export interface DataplaneDiff {
  /** Wanted and not in the kernel. */
  missing: DiffEntry[];
  /** Of ours (our device, our route protocol) in the kernel, and wanted by no lease. */
  stale: DiffEntry[];
  /** In the kernel under a wanted key, holding something else (another node's gateway, another MAC). */
  different: DiffEntry[];
}
