import { constants } from 'node:fs';
import { chmod, mkdir, open, rename, rm, readFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { IPNet } from '../ip/ipnet.js';

export const DEFAULT_SUBNET_FILE = '/run/flannel/subnet.env';

/** What flanneld publishes for the CNI plugin and for its own next start. */
export interface SubnetEnv {
  network?: IPNet;
  /** Our lease's subnet; the file holds its first host address (10.244.1.1/24). */
  subnet?: IPNet | undefined;
  ipv6Network?: IPNet;
  ipv6Subnet?: IPNet | undefined;
  mtu: number;
  ipMasq: boolean;
}

/** The file's text, keys in Go flannel's order. */
export function formatSubnetEnv(env: SubnetEnv): string {
  const lines: string[] = [];
  if (env.network && env.subnet) {
    lines.push(`FLANNEL_NETWORK=${env.network}`, `FLANNEL_SUBNET=${firstHost(env.subnet)}`);
  }
  if (env.ipv6Network && env.ipv6Subnet) {
    lines.push(`FLANNEL_IPV6_NETWORK=${env.ipv6Network}`, `FLANNEL_IPV6_SUBNET=${firstHost(env.ipv6Subnet)}`);
  }
  lines.push(`FLANNEL_MTU=${env.mtu}`, `FLANNEL_IPMASQ=${env.ipMasq}`);
  return lines.map((l) => `${l}\n`).join('');
}

/**
 * Replaces the file atomically (temp file, fsync, rename), so a CNI plugin never reads half of it.
 * The mode is 0644 whatever the umask, and the directory is created 0755.
 */
export async function writeSubnetFile(path: string, env: SubnetEnv): Promise<void> {
  try {
    await writeAtomically(path, formatSubnetEnv(env));
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new Error(`cannot write ${path}: ${e.code ?? e.message}${e.code === 'ENOSPC' ? ' (the disk is full)' : ''}`);
  }
}

/**
 * Temp file, fsync, rename. The temp file is created exclusively and never through a symlink: its
 * directory may be writable by others, and a planted link must not make root write elsewhere.
 */
async function writeAtomically(path: string, text: string): Promise<void> {
  const dir = dirname(path);
  await makeDirs(dir);
  const tmp = join(dir, `.${basename(path)}.${process.pid}.tmp`);
  const flags = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;
  await rm(tmp, { force: true }); // a leftover of a crash, or a planted link: removing it never follows it
  const fh = await open(tmp, flags, 0o644);
  try {
    await fh.writeFile(text);
    await fh.chmod(0o644);
    await fh.sync();
  } catch (err) {
    await fh.close();
    await rm(tmp, { force: true });
    throw err;
  }
  await fh.close();
  await rename(tmp, path);
  await chmod(path, 0o644);
}

/** mkdir -p with 0755 on every directory it creates, whatever the umask (mkdir's mode is masked by it). */
async function makeDirs(dir: string): Promise<void> {
  const first = await mkdir(dir, { recursive: true, mode: 0o755 });
  if (first === undefined) return;
  for (let d = dir; d.length >= first.length; d = dirname(d)) {
    await chmod(d, 0o755);
    if (d === first) break;
  }
}

function firstHost(net: IPNet): string {
  return `${net.ip.add(1)}/${net.prefixLen}`;
}

/** KEY=VALUE lines, dotenv style: `#` comments, optional `export `, optional quotes. */
export function parseEnvText(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const rawLine of text.split(/\r?\n/)) {
    const line = rawLine.trim().replace(/^export\s+/, '');
    if (line === '' || line.startsWith('#')) continue;
    const eq = line.indexOf('=');
    if (eq <= 0) continue;
    let value = line.slice(eq + 1).trim();
    if (value.length >= 2 && (value[0] === '"' || value[0] === "'") && value.endsWith(value[0])) value = value.slice(1, -1);
    out.set(line.slice(0, eq).trim(), value);
  }
  return out;
}

/** A comma list of CIDRs, masked (10.244.1.1/24 → 10.244.1.0/24); entries that do not parse are skipped. */
export function parseCIDRList(value: string | undefined, skipped?: (entry: string) => void): IPNet[] {
  if (!value) return [];
  const out: IPNet[] = [];
  for (const entry of value
    .split(',')
    .map((e) => e.trim())
    .filter((e) => e !== '')) {
    const net = IPNet.tryParse(entry);
    if (net) out.push(net);
    else skipped?.(entry);
  }
  return out;
}

/** What a previous run left behind, for subnet reuse and for recycling masquerade rules. */
export interface PreviousSubnetEnv {
  networks: IPNet[];
  subnet?: IPNet | undefined;
  ipv6Networks: IPNet[];
  ipv6Subnet?: IPNet | undefined;
  mtu?: number | undefined;
  ipMasq?: boolean | undefined;
}

export interface ReadWarning {
  key: string;
  problem: string;
}

/**
 * Reads subnet.env. A missing file gives undefined. Invalid entries are skipped and reported; a key that
 * should hold one subnet but holds several is treated as empty, as Go flannel does.
 */
export async function readSubnetFile(path: string, warn?: (w: ReadWarning) => void): Promise<PreviousSubnetEnv | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  const env = parseEnvText(text);
  const list = (key: string) => parseCIDRList(env.get(key), (entry) => warn?.({ key, problem: `not a CIDR: ${JSON.stringify(entry)}` }));
  const single = (key: string) => {
    const nets = list(key);
    if (nets.length > 1) warn?.({ key, problem: `holds ${nets.length} subnets, expected one; ignoring it` });
    return nets.length === 1 ? nets[0] : undefined;
  };
  const networks = list('FLANNEL_NETWORK');
  const subnet = single('FLANNEL_SUBNET');
  const ipv6Networks = list('FLANNEL_IPV6_NETWORK');
  const ipv6Subnet = single('FLANNEL_IPV6_SUBNET');
  const mtuText = env.get('FLANNEL_MTU');
  const mtu = mtuText !== undefined && /^\d+$/.test(mtuText) ? Number(mtuText) : undefined;
  if (mtuText !== undefined && mtu === undefined) warn?.({ key: 'FLANNEL_MTU', problem: `not a number: ${JSON.stringify(mtuText)}` });
  const masq = env.get('FLANNEL_IPMASQ');
  return { networks, subnet, ipv6Networks, ipv6Subnet, mtu, ipMasq: masq === undefined ? undefined : masq === 'true' };
}
