import { logWarning } from '../cni-error.js';
import { delegateType, renderDelegate, stableJson } from '../delegate.js';
import { delegateError, requirePlugin, runPlugin, type Plugin } from '../invoke.js';
import type { Json } from '../json.js';
import { parseNetConf } from '../netconf.js';
import { convertResult, parseResult } from '../result.js';
import type { RuntimeEnv } from '../runtime-env.js';
import { checkStateKey, removeState, saveState, statePath, type StateKey } from '../state.js';
import { loadSubnetEnv } from '../subnet-env.js';
import { delegateVersions } from '../version-cache.js';
import { negotiate } from '../versions.js';
import type { Output } from './output.js';

/**
 * Everything that can be checked is checked before the state file is written: the config, subnet.env,
 * the delegate's presence and the CNI version it will be called at. Once the delegate has run, a failure
 * of any kind is rolled back through the delegate's DEL, so no state, address or veth outlives it.
 */
export function cmdAdd(raw: Json, rt: RuntimeEnv, env: NodeJS.ProcessEnv): Output {
  const conf = parseNetConf(raw);
  const key: StateKey = { network: conf.name, containerID: rt.containerID, ifname: rt.ifname };
  checkStateKey(key);
  const subnetEnv = loadSubnetEnv(conf.subnetFile);
  const plugin = requirePlugin(delegateType(conf), rt.pluginDirs);
  const version = negotiate(delegateVersions(plugin, conf.cniVersion, env, conf.dataDir), conf.cniVersion, plugin.type);
  const text = stableJson(renderDelegate(conf, subnetEnv, version));
  saveState(conf.dataDir, key, text);
  try {
    const run = runPlugin(plugin, 'ADD', text, env);
    if (run.code !== 0 || run.signal) throw delegateError(plugin, 'ADD', run);
    const result = parseResult(run.stdout, plugin.type);
    return { stdout: JSON.stringify(convertResult(result, conf.cniVersion)), code: 0 };
  } catch (err) {
    rollBack(plugin, text, env, conf.dataDir, key);
    throw err;
  }
}

/**
 * Undoes a failed ADD with the delegate's DEL. The state goes only if that DEL worked, so that the
 * runtime's own DEL (it sends one after a failed ADD) can still try again.
 */
function rollBack(plugin: Plugin, text: string, env: NodeJS.ProcessEnv, dataDir: string, key: StateKey): void {
  try {
    const run = runPlugin(plugin, 'DEL', text, env);
    if (run.code !== 0 || run.signal) {
      logWarning(`rolling back a failed ADD: ${delegateError(plugin, 'DEL', run).message}; the state stays for the runtime's DEL`);
      return;
    }
  } catch (err) {
    logWarning(`rolling back a failed ADD: ${(err as Error).message}`);
  }
  try {
    removeState(statePath(dataDir, key));
  } catch (err) {
    logWarning(`rolling back a failed ADD: cannot remove its state: ${(err as Error).message}`);
  }
}
