// The data path's counters: one Float64Array over a SharedArrayBuffer that the worker writes and the
// control thread reads whenever it likes (for status and logs), so counting costs no message.

export const COUNTER_NAMES = [
  /** IPv4 packets read from flannel0. */
  'tunPackets',
  'tunBytes',
  /** Datagrams handed to the kernel for peers, and the messages that carried them (fewer with UDP GSO). */
  'sentPackets',
  'sentBytes',
  'sentMessages',
  /** Datagrams received on the port (after cutting GRO batches apart), the messages they came in, and what was written to flannel0. */
  'receivedPackets',
  'receivedBytes',
  'receivedMessages',
  'tunWrites',
  /** To no peer's subnet: dropped, and answered with an ICMP net-unreachable where one is owed. */
  'noRoute',
  'icmpSent',
  /** Dropped because the TTL ran out. */
  'ttlExpired',
  /** Not an IPv4 packet (too short, another version, lengths that do not add up). */
  'malformed',
  /** Received for an address outside our own subnet (we do not forward for others), or from inside it (no peer sends from there). */
  'foreign',
  /** Could not be sent (the socket buffer was full, the peer unroutable) or written to flannel0. */
  'sendDropped',
  'tunWriteDropped',
  'receiveErrors',
  /** Reads of flannel0 that failed for a reason other than an empty queue or a deleted device. */
  'tunReadErrors',
] as const;

export type CounterName = (typeof COUNTER_NAMES)[number];
export type ProxyCounters = Record<CounterName, number>;

export const C = Object.fromEntries(COUNTER_NAMES.map((n, i) => [n, i])) as Record<CounterName, number>;

export function newCounterBuffer(): SharedArrayBuffer {
  return new SharedArrayBuffer(COUNTER_NAMES.length * 8);
}

export function readCounters(view: Float64Array): ProxyCounters {
  return Object.fromEntries(COUNTER_NAMES.map((n, i) => [n, view[i]!])) as ProxyCounters;
}
