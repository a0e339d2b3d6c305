import type { IP } from '../ip/ip.js';
import type { IPNet } from '../ip/ipnet.js';

/**
 * The parsed net-conf.json (or the etcd `<prefix>/config` value). After validation every
 * enabled family has its network, subnet length and allocation range filled in.
 */
export interface NetworkConfig {
  enableIPv4: boolean;
  enableIPv6: boolean;
  enableNFTables: boolean;
  network?: IPNet;
  ipv6Network?: IPNet;
  subnetMin?: IP;
  subnetMax?: IP;
  ipv6SubnetMin?: IP;
  ipv6SubnetMax?: IP;
  /** 0 until validation picks the default. */
  subnetLen: number;
  ipv6SubnetLen: number;
  /** `Backend.Type` as written (built-in name, package name or path). */
  backendType: string;
  /** The whole `Backend` object; each backend parses its own keys from it. */
  backend: Record<string, unknown>;
}
