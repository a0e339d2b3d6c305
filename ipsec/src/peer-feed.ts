import { LeaseWatcher, type Lease, type LeaseWatchResult, type NetworkConfig } from '@flannel-ts/core';
import type { Observable, Subscription } from 'rxjs';
import type { Connections } from './connections.js';
import { readPeer, type IpsecPeer } from './ipsec-dataplane.js';

/**
 * Feeds the peer leases the engine sees into charon's connections: a peer that comes gets its connection,
 * one that leaves or changes address loses the old one. Leases the engine would refuse for its policies
 * (outside the network, our own subnet or address) get no connection either.
 */
export function feedConnections(
  leases: Observable<LeaseWatchResult>,
  ownLease: Lease,
  ours: IpsecPeer,
  config: NetworkConfig,
  conns: Connections,
): Subscription {
  const watcher = new LeaseWatcher(ownLease);
  const bySubnet = new Map<string, IpsecPeer>();
  const acceptable = (p: IpsecPeer) =>
    !p.publicIP.equals(ours.publicIP) &&
    !p.subnet.equals(ours.subnet) &&
    config.network?.contains(p.subnet.ip) === true &&
    p.subnet.prefixLen === ours.subnet.prefixLen;
  return leases.subscribe((result) => {
    for (const ev of watcher.apply(result)) {
      const key = String(ev.lease.subnet);
      const before = bySubnet.get(key);
      const peer = ev.type === 'added' ? readPeer(ev.lease) : undefined;
      const now = peer && !('problem' in peer) && acceptable(peer) ? peer : undefined;
      if (before && (!now || !now.publicIP.equals(before.publicIP))) {
        conns.deletePeer(before);
        bySubnet.delete(key);
      }
      if (now) {
        bySubnet.set(key, now);
        conns.setPeer(now);
      }
    }
  });
}
