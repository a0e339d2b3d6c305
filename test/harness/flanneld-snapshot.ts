// A private copy of the built flanneld for long suites. Other work in the same checkout may rebuild
// flanneld/bundle (new chunk names) while a suite runs for many minutes in the nested kernel; a flanneld
// started from the shared bundle after that fails to load. The copy sits inside the repository, so what it
// imports from node_modules (ffi-rs, the workspace packages) still resolves.
import { cpSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { RUN_PREFIX } from './netns.js';

export interface FlanneldSnapshot {
  /** bin/flanneld.js of the copy. */
  flanneld: string;
  /** bin/flannelctl.js of the copy. */
  flannelctl: string;
  remove(): void;
}

export function snapshotFlanneld(): FlanneldSnapshot {
  const pkg = dirname(createRequire(import.meta.url).resolve('@flannel-ts/flanneld/package.json'));
  const dir = join(pkg, '..', '.cache', `${RUN_PREFIX}flanneld-${process.pid}`);
  for (const part of ['package.json', 'bin', 'bundle', 'dist']) cpSync(join(pkg, part), join(dir, part), { recursive: true });
  return {
    flanneld: join(dir, 'bin', 'flanneld.js'),
    flannelctl: join(dir, 'bin', 'flannelctl.js'),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
