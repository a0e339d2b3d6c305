import type { Network } from './network.js';
import type { NetworkConfig } from './network-config.js';

/**
 * An encapsulation (vxlan, host-gw, ...). `registerNetwork` sets up what the node needs, acquires the
 * lease through the subnet manager and returns the network to run. `signal` aborts the setup.
 */
export interface Backend {
  registerNetwork(config: NetworkConfig, signal: AbortSignal): Promise<Network>;
}
