import type { Netlink } from '../contracts/netlink.js';

/** For a backend's cleanup hook: deletes (or with `dryRun` only names) the links whose names match. */
export async function removeLinks(nl: Netlink, names: RegExp, dryRun: boolean): Promise<string[]> {
  const removed: string[] = [];
  for (const link of await nl.linkList()) {
    if (!names.test(link.name)) continue;
    if (!dryRun) await nl.linkDel(link.index);
    removed.push(`device ${link.name}`);
  }
  return removed;
}
