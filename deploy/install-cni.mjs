// install-cni SRC DST: copies SRC to a temporary file beside DST and renames it over DST, so that a kubelet
// (or the container runtime calling the plugin) never sees half a file. The mode of SRC is kept (0755 for
// the plugin). Runs in flannel-ts's init containers; the image has no shell or coreutils.
import { chmodSync, copyFileSync, fsyncSync, openSync, closeSync, renameSync, statSync, unlinkSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

const [src, dst] = process.argv.slice(2);
if (!src || !dst) {
  console.error('usage: install-cni.mjs SRC DST');
  process.exit(2);
}
const tmp = join(dirname(dst), `.${basename(dst)}.${process.pid}.tmp`);
try {
  copyFileSync(src, tmp);
  chmodSync(tmp, statSync(src).mode & 0o777);
  const fd = openSync(tmp, 'r');
  fsyncSync(fd);
  closeSync(fd);
  renameSync(tmp, dst);
  console.log(`installed ${src} as ${dst}`);
} catch (err) {
  try {
    unlinkSync(tmp);
  } catch {
    // nothing to remove
  }
  console.error(`install-cni: ${err.message}`);
  process.exit(1);
}
