// The ipsec backend, as Go flannel's: strongSwan's charon negotiates IKEv2 with a pre-shared key between
// every pair of nodes and installs the ESP SAs (reqid 11); flanneld installs the three XFRM policies per
// peer that send pod traffic through them. No device and no route: pod traffic follows the node's routing,
// and the policies encrypt it on its way out and require it to have been decrypted on its way in.
//
// Beyond Go: the policies are kernel entries of core's engine, so one deleted by hand is put back as soon as
// the kernel announces it; charon's death is noticed and a new charon gets every PSK and connection again; the PSK never
// appears in a log line or an error.
import { ok } from 'node:assert/strict';
import {
  reconciledNetwork,
  UserError,
  type Backend,
  type BackendContext,
  type JsonValue,
  type Lease,
  type Network,
  type NetworkConfig,
  type PeerTraffic,
  type ReconcilerTiming,
  type SubnetManager,
} from '@flannel-ts/core';
import { share } from 'rxjs';
import { findCharon, spawnCharon, type CharonLauncher } from './charon.js';
import { CharonSupervisor } from './charon-supervisor.js';
import { parseIpsecConfig, type IpsecConfig } from './config.js';
import { childName, connName, Connections } from './connections.js';
import { IpsecDataplane, type IpsecPeer } from './ipsec-dataplane.js';
import { feedConnections } from './peer-feed.js';
import { xfrmMissing } from './xfrm.js';

/** ESP in tunnel mode over IPv4: outer header 20, SPI and sequence 8, IV 8, padding and trailer up to 17, ICV 16, … (Go's figure). */
export const OVERHEAD = 77;
/** UDP encapsulation adds its 8-byte header. */
export const UDP_ENCAP_OVERHEAD = 8;

export interface IpsecBackendOptions {
  /** How charon is started (tests give a fake); default: spawn the real one. */
  launchCharon?: CharonLauncher;
  timing?: Partial<ReconcilerTiming>;
}

export class IpsecBackend implements Backend {
  constructor(
    private readonly ctx: BackendContext,
    private readonly opts: IpsecBackendOptions = {},
  ) {}

  async registerNetwork(config: NetworkConfig, signal: AbortSignal): Promise<Network> {
    const { extIface, logger, netlink: nl, subnetManager, clock } = this.ctx;
    const cfg = parseIpsecConfig(config.backend, logger);
    const missing = xfrmMissing(nl);
    if (missing)
      throw new UserError('Backend.Type', `this flanneld cannot program XFRM policies (${missing})`, 'run the ipsec backend on a flanneld whose core has XFRM');
    checkNetwork(config);
    const ext = extIface.extAddr;
    if (!ext || ext.family !== 4) {
      throw new UserError(
        '--iface',
        `${extIface.iface.name} has no IPv4 address, which the ipsec backend's tunnels run between`,
        'pick an interface with one, or set --public-ip',
      );
    }
    // Before the lease: a node without charon costs no lease.
    const launch = this.opts.launchCharon ?? spawnCharon;
    if (!this.opts.launchCharon) findCharon();
    const mtu = extIface.iface.mtu - OVERHEAD - (cfg.udpEncap ? UDP_ENCAP_OVERHEAD : 0);

    const lease = await subnetManager.acquireLease({ publicIP: ext, backendType: 'ipsec' }, signal);
    ok(lease.subnet, 'an IPv4 network gives an IPv4 lease');
    const ours: IpsecPeer = { publicIP: ext, subnet: lease.subnet };
    const conns = new Connections(ours, cfg, { logger, clock });
    const supervisor = new CharonSupervisor(launch, conns, { logger, clock, psk: cfg.psk });
    await supervisor.start(signal);

    // One lease stream for both: the engine's policies and charon's connections see the same peers.
    const leases = subnetManager.watchLeases().pipe(share());
    const dataplane = new IpsecDataplane(nl, ours, config);
    const network = reconciledNetwork(
      { ...this.ctx, subnetManager: sharingLeases(subnetManager, () => leases) },
      {
        lease,
        mtu,
        config,
        dataplane,
        ...(this.opts.timing ? { timing: this.opts.timing } : {}),
        details: () => details(cfg, mtu, extIface.iface.mtu, supervisor, conns),
        peerTraffic: () => peerTraffic(conns, ours),
      },
    );
    logger.info(
      { subnet: String(lease.subnet), publicIP: String(ext), mtu, udpEncap: cfg.udpEncap, espProposal: cfg.espProposal, pskLength: cfg.psk.length },
      'ipsec network ready',
    );
    return {
      ...network,
      run: async (runSignal: AbortSignal) => {
        const feed = feedConnections(leases, lease, ours, config, conns);
        try {
          await Promise.all([network.run(runSignal), supervisor.run(runSignal)]);
        } finally {
          feed.unsubscribe();
        }
      },
    };
  }
}

function checkNetwork(config: NetworkConfig): void {
  if (!config.enableIPv4 || !config.network) {
    throw new UserError(
      'Network',
      'the ipsec backend carries IPv4 pods only, and this network has no IPv4 Network',
      'set Network, or choose the wireguard backend for IPv6',
    );
  }
  if (config.enableIPv6) {
    throw new UserError(
      'EnableIPv6',
      'the ipsec backend carries IPv4 pods only (as Go flannel)',
      'set EnableIPv6 to false, or choose the wireguard backend for dual stack',
    );
  }
}

/** The subnet manager with its lease stream replaced by a shared one; every other call goes to the real one. */
function sharingLeases(sm: SubnetManager, watchLeases: SubnetManager['watchLeases']): SubnetManager {
  return {
    get name() {
      return sm.name;
    },
    getNetworkConfig: (signal) => sm.getNetworkConfig(signal),
    acquireLease: (attrs, signal) => sm.acquireLease(attrs, signal),
    ...(sm.lookupLease ? { lookupLease: (attrs, signal) => sm.lookupLease!(attrs, signal) } : {}),
    renewLease: (l: Lease, signal) => sm.renewLease(l, signal),
    watchLeases,
    completeLease: (l: Lease, signal) => sm.completeLease(l, signal),
  };
}

/** Per peer: its IKE SA's state, when it was established and its child SAs' bytes, read from charon now. */
async function peerTraffic(conns: Connections, ours: IpsecPeer): Promise<PeerTraffic[]> {
  const sas = await conns.sas();
  const out: PeerTraffic[] = [];
  for (const name of conns.names()) {
    const peer = conns.peerOf(name)!;
    // Both ends may have started an IKE SA: count the established one that carries traffic.
    const mine = sas
      .filter((s) => s.conn === name)
      .sort((a, b) => b.installedChildren - a.installedChildren || b.bytesIn + b.bytesOut - (a.bytesIn + a.bytesOut));
    const sa = mine.find((s) => s.state === 'ESTABLISHED') ?? mine[0];
    out.push({
      device: 'ipsec',
      publicKey: `${name} (${childName(ours, peer)}: ${sa?.state ?? 'no IKE SA'})`,
      subnets: [String(peer.subnet)],
      endpoint: String(peer.publicIP),
      ...(sa?.establishedAt && sa.state === 'ESTABLISHED' ? { latestHandshake: sa.establishedAt.toISOString() } : {}),
      rxBytes: mine.reduce((n, s) => n + s.bytesIn, 0),
      txBytes: mine.reduce((n, s) => n + s.bytesOut, 0),
    });
  }
  return out;
}

function details(cfg: IpsecConfig, mtu: number, ifaceMtu: number, supervisor: CharonSupervisor, conns: Connections): Record<string, JsonValue> {
  const states = conns.lastStates();
  const sas = conns.names().map((name) => {
    const s = states.filter((x) => x.conn === name).map((x) => x.state);
    return `${name}: ${s.length > 0 ? s.join('+') : 'no IKE SA'}`;
  });
  return {
    ipsec: `IKEv2 with a ${cfg.psk.length}-character PSK; ESP ${cfg.espProposal}; UDP encapsulation ${cfg.udpEncap ? 'on' : 'off'}; MTU ${mtu} (interface ${ifaceMtu} − ${OVERHEAD}${cfg.udpEncap ? ` − ${UDP_ENCAP_OVERHEAD}` : ''})`,
    charon: supervisor.details(),
    connections: sas.length > 0 ? sas.join(', ') : 'none',
  };
}

export { connName };
