import { backendModule, BACKEND_CONTRACT_VERSION, defineBackend, type Netlink } from '@flannel-ts/core';
import { TUN_NAME } from './device.js';
import { UdpBackend } from './udp-backend.js';

export { parseUdpConfig, DEFAULT_UDP_PORT, type UdpConfig } from './config.js';
export { Flannel0, TUN_NAME_PATTERN, type TunKernel } from './device.js';
export { decrementTtl, internetChecksum, isIPv4, netUnreachable, UDP_OVERHEAD } from './ipv4.js';
export { PeerTable, type NextHop, type PeerTableOp } from './peer-table.js';
export { planMessages } from './gso.js';
export { UdpDataplane, type UdpDataplaneDeps } from './udp-dataplane.js';
export { ProxyPeerEntry, ProxyTableMirror, withProxyTable } from './proxy-entries.js';
export { WorkerDataPath, workerFile, type DataPath, type DataPathInit } from './data-path.js';
export { COUNTER_NAMES, newCounterBuffer, readCounters, type ProxyCounters } from './counters.js';
export { CONTROL_FLAG, QUEUE_STATE, type ProxyCommand, type ProxyInit, type ProxyNotice } from './proxy-loop.js';
export { openEventFd, openUdpSocket } from './native.js';
export { kernelHasUdpGso, kernelIo, UdpBackend, type UdpIo } from './udp-backend.js';
export { udpNetwork, UDP_TIMING, type UdpNetworkOptions, type UdpTiming } from './udp-network.js';

/** flannelN TUN devices (not flannel.1, vxlan's): what `flanneld --cleanup` removes; their route goes with them. */
async function removeTunDevices(nl: Netlink, dryRun: boolean): Promise<string[]> {
  const removed: string[] = [];
  for (const link of await nl.linkList()) {
    if (link.kind !== 'tun' || !TUN_NAME.test(link.name)) continue;
    if (!dryRun) await nl.linkDel(link.index);
    removed.push(`device ${link.name}`);
  }
  return removed;
}

/** The udp backend: flannel0 (TUN) and a userspace proxy carrying IPv4 packets in UDP, port 8285, as Go flannel does. */
export const backend = defineBackend({
  name: 'udp',
  contractVersion: BACKEND_CONTRACT_VERSION,
  create: (ctx) => new UdpBackend(ctx),
  cleanup: ({ netlink, dryRun }) => removeTunDevices(netlink, dryRun),
});

/** Registers this backend with flanneld's backend registry. */
export const containerModule = backendModule(backend);
