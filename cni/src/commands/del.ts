import type { Json } from '../json.js';
import { parseBaseNetConf } from '../netconf.js';
import type { RuntimeEnv } from '../runtime-env.js';
import { loadState } from '../state.js';
import { releaseAttachment } from './release.js';
import { SUCCESS, type Output } from './output.js';

/**
 * Idempotent, and checks only what it uses (the version, the network name, dataDir): a DEL sent with the
 * config of a failed ADD, or after the config changed, must still succeed. No saved state is success.
 */
export function cmdDel(raw: Json, rt: RuntimeEnv, env: NodeJS.ProcessEnv): Output {
  const conf = parseBaseNetConf(raw);
  const state = loadState(conf.dataDir, { network: conf.name, containerID: rt.containerID, ifname: rt.ifname });
  if (!state) return SUCCESS;
  const err = releaseAttachment(state, rt.pluginDirs, env);
  if (err) throw err;
  return SUCCESS;
}
