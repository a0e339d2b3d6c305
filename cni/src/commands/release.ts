import { CNI_ERR, CniError, logWarning } from '../cni-error.js';
import { delegateError, findPlugin, pluginVersions, runPlugin, type Plugin, type PluginRun } from '../invoke.js';
import { isObject } from '../json.js';
import { validatePluginName } from '../netconf.js';
import { removeState, type LoadedState } from '../state.js';
import { isSupported, LATEST_VERSION, negotiate } from '../versions.js';

/**
 * Runs the delegate's DEL for one attachment's saved state, then removes the state: shared by DEL and GC.
 * Returns the error to answer with, or undefined for success. Only a failure that a retry could fix is
 * an error; state that can never be replayed (unreadable, empty, a delegate that is gone or calls the
 * config invalid) is logged and dropped, since failing on it would keep a pod terminating forever.
 */
export function releaseAttachment(state: LoadedState, pluginDirs: string[], env: NodeJS.ProcessEnv): CniError | undefined {
  const drop = (why: string) => {
    logWarning(`dropping the saved config ${state.path}: ${why}`);
    removeQuietly(state.path);
    return undefined;
  };
  if ('unusable' in state) return drop(state.unusable);
  let saved: unknown;
  try {
    saved = JSON.parse(state.text);
  } catch (err) {
    return drop(`it is not JSON (${(err as Error).message})`);
  }
  if (!isObject(saved)) return drop('it is not a JSON object');
  let plugin: Plugin | undefined;
  try {
    validatePluginName(saved.type, 'type');
    plugin = findPlugin(saved.type, pluginDirs, 'type');
  } catch (err) {
    return drop((err as Error).message);
  }
  if (!plugin) return drop(`its delegate plugin "${String(saved.type)}" is no longer in CNI_PATH`);

  let run: PluginRun;
  try {
    run = runPlugin(plugin, 'DEL', state.text, env);
    if (failedWith(run, CNI_ERR.incompatibleVersion)) run = retryAtNegotiatedVersion(plugin, saved, env);
  } catch (err) {
    if (err instanceof CniError && err.code === CNI_ERR.incompatibleVersion) return drop(err.message);
    return err instanceof CniError ? err : new CniError(CNI_ERR.internal, (err as Error).message);
  }
  if (run.code === 0 && !run.signal) {
    removeQuietly(state.path);
    return undefined;
  }
  const err = delegateError(plugin, 'DEL', run);
  if (err.code === CNI_ERR.invalidConfig || err.code === CNI_ERR.incompatibleVersion) return drop(`the delegate refused it: ${err.message}`);
  return err;
}

/** State saved at a version the delegate no longer speaks (our old code saved 1.1.0 for a 1.0.0 bridge). */
function retryAtNegotiatedVersion(plugin: Plugin, saved: Record<string, unknown>, env: NodeJS.ProcessEnv): PluginRun {
  const savedVersion = typeof saved.cniVersion === 'string' && isSupported(saved.cniVersion) ? saved.cniVersion : LATEST_VERSION;
  const version = negotiate(pluginVersions(plugin, savedVersion, env), savedVersion, plugin.type, true);
  return runPlugin(plugin, 'DEL', JSON.stringify({ ...saved, cniVersion: version }), env);
}

function failedWith(run: PluginRun, code: number): boolean {
  if (run.code === 0) return false;
  try {
    const reply: unknown = JSON.parse(run.stdout);
    return isObject(reply) && reply.code === code;
  } catch {
    return false;
  }
}

/** The delegate's DEL already worked: a state file we cannot remove is logged, not failed on. */
function removeQuietly(path: string): void {
  try {
    removeState(path);
  } catch (err) {
    logWarning(`cannot remove the saved config ${path}: ${(err as Error).message}`);
  }
}
