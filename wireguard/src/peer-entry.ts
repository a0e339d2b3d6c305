import { createHmac, randomBytes } from 'node:crypto';
import type { IPNet, KernelEntry } from '@flannel-ts/core';
import { formatEndpoint, requests, wgKeyToBase64, type NetlinkRequest, type WgEndpoint, type WgPeer, type WgSecret } from '@flannel-ts/core/netlink';

/** What one wireguard peer must be on one of our devices. */
export interface WgPeerSpec {
  ifindex: number;
  publicKey: Buffer;
  endpoint?: WgEndpoint | undefined;
  allowedIPs: IPNet[];
  persistentKeepalive: number;
  presharedKey?: WgSecret | undefined;
}

/** Peers go in before nothing and after nothing: their rank only needs to be one. */
export const WGPEER_RANK = 0;

/**
 * A PSK's tag in an entry's value: an HMAC under a key of this process only, so that a changed PSK shows as
 * a different value while the value (which `flannelctl diff` prints) says nothing about the key itself.
 */
const TAG_KEY = randomBytes(32);
const pskTag = (psk: WgSecret | undefined) => (psk ? createHmac('sha256', TAG_KEY).update(psk.bytes()).digest('hex').slice(0, 12) : 'none');

/**
 * A wireguard peer as a kernel entry for core's engine, keyed by device and public key (the kernel's own
 * identity for a peer), its value everything we set: endpoint, allowed IPs, keepalive and PSK. put() is
 * `wg set DEV peer KEY … replace-allowed-ips`, del() `wg set DEV peer KEY remove`, both one generic netlink
 * message that the engine batches with everything else. The value carries `dev N` so that `flannelctl diff`
 * names the device.
 */
export class WgPeerEntry implements KernelEntry {
  readonly key: string;
  readonly value: string;
  readonly rank = WGPEER_RANK;

  constructor(private readonly p: WgPeerSpec) {
    this.key = `wgpeer ${p.ifindex} ${wgKeyToBase64(p.publicKey)}`;
    const ips = p.allowedIPs.map(String).sort();
    this.value = `dev ${p.ifindex} endpoint ${p.endpoint ? formatEndpoint(p.endpoint) : '-'} allowed-ips ${ips.join(',') || '-'} keepalive ${p.persistentKeepalive} psk ${pskTag(p.presharedKey)}`;
  }

  put(): NetlinkRequest {
    const p = this.p;
    return requests.wgPeerSet(p.ifindex, {
      publicKey: p.publicKey,
      presharedKey: p.presharedKey ?? null,
      ...(p.endpoint ? { endpoint: p.endpoint } : {}),
      persistentKeepalive: p.persistentKeepalive,
      replaceAllowedIPs: true,
      allowedIPs: p.allowedIPs,
    });
  }

  del(): NetlinkRequest {
    return requests.wgPeerSet(this.p.ifindex, { publicKey: this.p.publicKey, remove: true });
  }
}

/** A peer the kernel holds on device `ifindex`, as an entry comparable with the wanted ones. */
export const kernelPeerEntry = (ifindex: number, p: WgPeer): WgPeerEntry =>
  new WgPeerEntry({
    ifindex,
    publicKey: p.publicKey,
    endpoint: p.endpoint,
    allowedIPs: p.allowedIPs,
    persistentKeepalive: p.persistentKeepalive,
    presharedKey: p.presharedKey,
  });
