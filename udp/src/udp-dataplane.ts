// The udp backend's part of core's reconciliation engine: a peer lease is one entry of the proxy's table,
// the devices are flannel0 (with its address and route) and the queue the proxy reads it through.
import type { Dataplane, DeviceCheck, KernelWatch, Lease, Logger, PeerPlan } from '@flannel-ts/core';
import type { DataPath } from './data-path.js';
import type { Flannel0 } from './device.js';
import { ProxyPeerEntry, type ProxyTableMirror } from './proxy-entries.js';

export interface UdpDataplaneDeps {
  device: Flannel0;
  dataPath: DataPath;
  table: ProxyTableMirror;
  /** Go's proxy sends to every peer on our own configured port. */
  port: number;
  logger: Logger;
}

/**
 * The engine checks what any peer lease may claim (inside the network, one node subnet, no overlap, not
 * our PublicIP); planPeer adds what a udp peer needs. A deleted flannel0, a change to its MTU, state,
 * address or route, and a proxy that lost its queue are put right by ensureDevices before every resync:
 * on the kernel's word (the link, addr and route monitor), at the periodic resync, and after a failed repair.
 */
export class UdpDataplane implements Dataplane {
  readonly watch: KernelWatch = {
    topics: ['link', 'addr', 'route'],
    deletionsOnly: ['addr', 'route'],
    classify: (ev) => {
      const why = this.d.device.classify(ev);
      return why ? { resync: why } : undefined;
    },
  };

  constructor(private readonly d: UdpDataplaneDeps) {}

  planPeer(lease: Lease): PeerPlan {
    const { subnet } = lease;
    const { publicIP, backendType } = lease.attrs;
    if (!subnet) return { entries: [], problems: ['it has no IPv4 subnet (the udp backend carries IPv4 only)'] };
    const problems: string[] = [];
    // Go's udp backend writes no BackendType; ours writes "udp". Anything else is another backend's node.
    if (backendType !== undefined && backendType !== 'udp')
      problems.push(`BackendType is ${JSON.stringify(backendType)}, not "udp" (or none, as Go flannel's udp writes)`);
    if (!publicIP) problems.push('it has no PublicIP');
    else if (publicIP.family !== 4) problems.push(`its PublicIP ${publicIP} is not IPv4`);
    if (problems.length > 0) return { entries: [], problems };
    return { entries: [new ProxyPeerEntry(subnet, publicIP!.toString(), this.d.port)], problems: [] };
  }

  async readKernel(): Promise<ProxyPeerEntry[]> {
    return this.d.table.list();
  }

  async ensureDevices(reasons: readonly string[]): Promise<DeviceCheck> {
    const { device, dataPath, logger } = this.d;
    const r = await device.ensure({ reattach: dataPath.queueLost() });
    // The repair is reported once the proxy reads the new queue: from then on traffic flows again.
    if (r.newFd !== undefined) await dataPath.replaceTun(r.newFd);
    if (r.repaired.length === 0) return { replan: false, repaired: [] };
    logger.warn({ device: device.name, repaired: r.repaired, reasons }, 'flannel0 was not as we left it; put it back');
    return { replan: false, repaired: [device.name] };
  }
}
