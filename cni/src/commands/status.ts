import { CNI_ERR, CniError } from '../cni-error.js';
import { delegateType, renderDelegate, stableJson } from '../delegate.js';
import { delegateError, findPlugin, runPlugin } from '../invoke.js';
import type { Json } from '../json.js';
import { parseNetConf } from '../netconf.js';
import type { RuntimeEnv } from '../runtime-env.js';
import { loadSubnetEnv, type FlannelSubnetEnv } from '../subnet-env.js';
import { delegateVersions } from '../version-cache.js';
import { atLeast } from '../versions.js';
import { SUCCESS, type Output } from './output.js';

const START_FLANNELD = 'start flanneld on this node and wait until /readyz says it is ready';

/**
 * CNI 1.1 STATUS: ready exactly when ADD could work. subnet.env goes through ADD's own validation, the
 * delegate must be on CNI_PATH, and a delegate that speaks 1.1.0 is asked for its STATUS too.
 */
export function cmdStatus(raw: Json, rt: RuntimeEnv, env: NodeJS.ProcessEnv): Output {
  const conf = parseNetConf(raw);
  if (!atLeast(conf.cniVersion, '1.1.0'))
    throw new CniError(CNI_ERR.incompatibleVersion, 'config version does not allow STATUS', 'STATUS needs cniVersion 1.1.0');
  let subnetEnv: FlannelSubnetEnv;
  try {
    subnetEnv = loadSubnetEnv(conf.subnetFile);
  } catch (err) {
    throw new CniError(CNI_ERR.notAvailable, (err as Error).message, START_FLANNELD);
  }
  const plugin = findPlugin(delegateType(conf), rt.pluginDirs);
  if (!plugin)
    throw new CniError(
      CNI_ERR.notAvailable,
      `the delegate plugin "${delegateType(conf)}" is not in CNI_PATH [${rt.pluginDirs.join(' ')}]`,
      'install containernetworking-plugins',
    );
  if (!delegateVersions(plugin, conf.cniVersion, env, conf.dataDir).includes('1.1.0')) return SUCCESS;
  const run = runPlugin(plugin, 'STATUS', stableJson(renderDelegate(conf, subnetEnv, '1.1.0')), env);
  if (run.code !== 0 || run.signal) throw delegateError(plugin, 'STATUS', run);
  return SUCCESS;
}
