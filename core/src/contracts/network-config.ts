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
  network?: IPNet | undefined;
  ipv6Network?: IPNet | undefined;
  subnetMin?: IP | undefined;
  subnetMax?: IP | undefined;
  ipv6SubnetMin?: IP | undefined;
  ipv6SubnetMax?: IP | undefined;
  /** 0 until validation picks the default. */
  subnetLen: number;
  ipv6SubnetLen: number;
  /** `Backend.Type` as written (built-in name, package name or path). */
  backendType: string;
  /** The whole `Backend` object; each backend parses its own keys from it. */
  backend: Record<string, unknown>;
}
