import { backendModule, defineBackend, removeLinks } from '@flannel-ts/core';
import { existsSync, unlinkSync } from 'node:fs';
import { WireguardBackend } from './wireguard-backend.js';
import { keyFilePath } from './keys.js';

export { parseWireguardConfig, MODES, type WireguardConfig, type WireguardMode } from './config.js';
export { DEFAULT_KEY_FILE, KEY_FILE_ENV, generatePrivateKey, keyFilePath, loadOrCreateKey, publicKeyOf } from './keys.js';
export { autoEndpointFamily, isPrivate, readPeerData, type WireguardLeaseData } from './peer.js';
export { WgPeerEntry } from './peer-entry.js';
export { deviceSpecs, OVERHEAD_V4, OVERHEAD_V6, V4_DEVICE, V6_DEVICE } from './device.js';
export { WireguardDataplane } from './wireguard-dataplane.js';
export { WireguardBackend } from './wireguard-backend.js';

/**
 * The wireguard backend: pod traffic encrypted between nodes by WireGuard (flannel-wg, and flannel-wg-v6 in
 * separate mode), peers from leases, configured over generic netlink; Go flannel's wire format.
 */
export const backend = defineBackend({
  name: 'wireguard',
  // The contract it was built against, as a literal (docs/writing-a-backend.md): 1.3 added generic netlink.
  contractVersion: '1.3',
  create: (ctx) => new WireguardBackend(ctx),
  /** `flanneld --cleanup`: the devices, and the private key file (a reinstalled node makes a new key). */
  async cleanup({ netlink, logger, dryRun }) {
    const removed = await removeLinks(netlink, /^flannel-wg(-v6)?$/, dryRun);
    const file = keyFilePath();
    try {
      if (dryRun && !existsSync(file)) return removed;
      if (!dryRun) unlinkSync(file);
      removed.push(`file ${file}`);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') logger.warn({ file, err: (err as Error).message }, 'cannot remove the WireGuard key file');
    }
    return removed;
  },
});

/** Registers this backend with flanneld's backend registry. */
export const containerModule = backendModule(backend);
