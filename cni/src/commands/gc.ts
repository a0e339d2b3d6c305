import { CNI_ERR, CniError, logWarning } from '../cni-error.js';
import { delegateType, renderDelegate, stableJson } from '../delegate.js';
import { delegateError, findPlugin, runPlugin } from '../invoke.js';
import { isObject, type Json } from '../json.js';
import { parseBaseNetConf, parseNetConf, type BaseNetConf } from '../netconf.js';
import type { RuntimeEnv } from '../runtime-env.js';
import { listState, readState, statePath } from '../state.js';
import { loadSubnetEnv } from '../subnet-env.js';
import { delegateVersions } from '../version-cache.js';
import { atLeast } from '../versions.js';
import { releaseAttachment } from './release.js';
import { SUCCESS, type Output } from './output.js';

const VALID_ATTACHMENTS = 'cni.dev/valid-attachments';

/**
 * CNI 1.1 GC, for this network's attachments only (other networks may share dataDir). Every attachment
 * with state that the runtime no longer lists gets the delegate's DEL without a netns, which for bridge
 * is exactly host-local's DEL: its address is released, not just its state file dropped (bridge 1.1.1
 * has no GC of its own). A delegate that speaks 1.1.0 is then sent the GC itself. One failure does not
 * stop the rest; the first is answered.
 */
export function cmdGc(raw: Json, rt: RuntimeEnv, env: NodeJS.ProcessEnv): Output {
  const conf = parseBaseNetConf(raw);
  if (!atLeast(conf.cniVersion, '1.1.0')) throw new CniError(CNI_ERR.incompatibleVersion, 'config version does not allow GC', 'GC needs cniVersion 1.1.0');
  const keep = validAttachments(raw[VALID_ATTACHMENTS]);
  let firstError: CniError | undefined;
  for (const key of listState(conf.dataDir, conf.name)) {
    if (keep.has(`${key.containerID}:${key.ifname}`)) continue;
    const state = readState(statePath(conf.dataDir, key));
    if (!state) continue; // a concurrent DEL got there first
    const { CNI_NETNS: _gone, ...rest } = env;
    firstError ??= releaseAttachment(state, rt.pluginDirs, { ...rest, CNI_CONTAINERID: key.containerID, CNI_IFNAME: key.ifname });
  }
  firstError ??= forwardGc(conf, raw, rt, env);
  if (firstError) throw firstError;
  return SUCCESS;
}

/**
 * The runtime's list, all or nothing: acting on a list with holes could release the address of a live
 * pod, so a malformed entry fails the whole GC before anything is removed.
 */
function validAttachments(list: unknown): Set<string> {
  const bad = (details: string) => new CniError(CNI_ERR.invalidConfig, `"${VALID_ATTACHMENTS}" must be a list of {"containerID", "ifname"}`, details);
  if (!Array.isArray(list)) throw bad(`not ${JSON.stringify(list)}`);
  const keep = new Set<string>();
  for (const a of list as unknown[]) {
    if (!isObject(a) || typeof a.containerID !== 'string' || typeof a.ifname !== 'string') throw bad(`found ${JSON.stringify(a)}`);
    keep.add(`${a.containerID}:${a.ifname}`);
  }
  return keep;
}

/** Sends GC on to a delegate that speaks 1.1.0, with the config ADD would render now. */
function forwardGc(base: BaseNetConf, raw: Json, rt: RuntimeEnv, env: NodeJS.ProcessEnv): CniError | undefined {
  try {
    const conf = parseNetConf(raw);
    const plugin = findPlugin(delegateType(conf), rt.pluginDirs);
    if (!plugin || !delegateVersions(plugin, base.cniVersion, env, base.dataDir).includes('1.1.0')) return undefined;
    const delegateConf = { ...renderDelegate(conf, loadSubnetEnv(conf.subnetFile), '1.1.0'), [VALID_ATTACHMENTS]: raw[VALID_ATTACHMENTS] };
    const run = runPlugin(plugin, 'GC', stableJson(delegateConf), env);
    return run.code !== 0 || run.signal ? delegateError(plugin, 'GC', run) : undefined;
  } catch (err) {
    logWarning(`GC not sent on to the delegate: ${(err as Error).message}`);
    return undefined;
  }
}
