// How a batch of packets read from flannel0 becomes sendmmsg messages. Every datagram on the wire is still
// one inner IP packet, as Go sends it; with UDP GSO a run of packets of one size to one peer goes to the
// kernel as a single message that it cuts into those datagrams after routing, once per run instead of once
// per packet.

/** UDP_MAX_SEGMENTS since Linux 4.18. */
export const MAX_GSO_SEGMENTS = 64;
/** What one UDP/IPv4 datagram (and so one GSO message) can carry. */
export const MAX_UDP_PAYLOAD = 65535 - 28;

/** A next hop as planMessages sees it: GSO may have been refused on the way to it. */
export interface GsoHop {
  noGso?: boolean;
}

/**
 * Groups queued packets `from`..`to` − 1 into messages, in order, written from message index `at`: with
 * `gso`, consecutive packets to the same next hop (compared by identity, and not one marked `noGso`) of the
 * first one's length join its message, and a last shorter one may end it, as UDP GSO requires (segments of
 * gso_size, the last possibly shorter), up to MAX_GSO_SEGMENTS and MAX_UDP_PAYLOAD bytes; otherwise each
 * packet is a message. Writes each message's first packet and packet count into `firsts` and `counts`, and
 * returns the index after the last message written.
 */
export function planMessages(
  hops: readonly (GsoHop | undefined)[],
  lens: readonly number[],
  from: number,
  to: number,
  gso: boolean,
  firsts: number[],
  counts: number[],
  at = 0,
): number {
  let m = at;
  let i = from;
  while (i < to) {
    let k = 1;
    const hop = hops[i];
    if (gso && !hop?.noGso) {
      const size = lens[i]!;
      const max = Math.min(MAX_GSO_SEGMENTS, Math.floor(MAX_UDP_PAYLOAD / size));
      while (k < max && i + k < to && hops[i + k] === hop && lens[i + k] === size) k++;
      if (k < max && i + k < to && hops[i + k] === hop && lens[i + k]! < size) k++;
    }
    firsts[m] = i;
    counts[m] = k;
    m++;
    i += k;
  }
  return m;
}
