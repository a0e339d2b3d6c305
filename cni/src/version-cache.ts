import { existsSync } from 'node:fs';
import { writeFileAtomic } from './atomic-write.js';
import { readRegularFile } from './bounded-read.js';
import { pluginVersions, type Plugin } from './invoke.js';
import { isObject } from './json.js';

/**
 * Delegates' VERSION answers, kept in dataDir per plugin file and its identity (device, inode, size,
 * mtime, ctime): asking costs a process (~5 ms) on every ADD, and the answer only changes when the file
 * does. Best effort: an unreadable or unwritable cache only means asking again. The name starts with a
 * dot, so it never reads as an attachment's state.
 */
const CACHE_FILE = '.delegate-versions.json';

type Cache = Record<string, { identity: string; versions: string[] }>;

export function delegateVersions(plugin: Plugin, wanted: string, env: NodeJS.ProcessEnv, dataDir: string): string[] {
  const cache = readCache(dataDir);
  const hit = cache[plugin.path];
  if (hit?.identity === plugin.identity) return hit.versions;
  const versions = pluginVersions(plugin, wanted, env);
  if (existsSync(dataDir)) {
    try {
      writeFileAtomic(dataDir, CACHE_FILE, JSON.stringify({ ...cache, [plugin.path]: { identity: plugin.identity, versions } }), false);
    } catch {
      // asked again next time
    }
  }
  return versions;
}

function readCache(dataDir: string): Cache {
  try {
    const cache: unknown = JSON.parse(readRegularFile(`${dataDir}/${CACHE_FILE}`, { noFollow: true, max: 64 << 10 }));
    if (!isObject(cache)) return {};
    const valid: Cache = {};
    for (const [path, entry] of Object.entries(cache)) {
      if (isObject(entry) && typeof entry.identity === 'string' && Array.isArray(entry.versions) && entry.versions.every((v) => typeof v === 'string')) {
        valid[path] = { identity: entry.identity, versions: entry.versions as string[] };
      }
    }
    return valid;
  } catch {
    return {};
  }
}
