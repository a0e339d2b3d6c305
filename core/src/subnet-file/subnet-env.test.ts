import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IPNet } from '../ip/ipnet.js';
import { readSubnetFile, writeSubnetFile, type ReadWarning } from './subnet-env.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'flannel-ts-subnet-env-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('subnet.env', () => {
  it('writes the keys in Go flannel order, with the first host address of the subnet', async () => {
    const path = join(dir, 'run', 'flannel', 'subnet.env');
    await writeSubnetFile(path, {
      network: IPNet.parse('10.244.0.0/16'),
      subnet: IPNet.parse('10.244.1.0/24'),
      ipv6Network: IPNet.parse('2001:cafe:42::/56'),
      ipv6Subnet: IPNet.parse('2001:cafe:42::/64'),
      mtu: 1450,
      ipMasq: true,
    });
    expect(await readFile(path, 'utf8')).toBe(
      'FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.1.1/24\nFLANNEL_IPV6_NETWORK=2001:cafe:42::/56\nFLANNEL_IPV6_SUBNET=2001:cafe:42::1/64\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=true\n',
    );
  });

  it('leaves out a family that is not enabled', async () => {
    const path = join(dir, 'subnet.env');
    await writeSubnetFile(path, { network: IPNet.parse('10.1.0.0/16'), subnet: IPNet.parse('10.1.74.0/24'), mtu: 1472, ipMasq: false });
    expect(await readFile(path, 'utf8')).toBe('FLANNEL_NETWORK=10.1.0.0/16\nFLANNEL_SUBNET=10.1.74.1/24\nFLANNEL_MTU=1472\nFLANNEL_IPMASQ=false\n');
  });

  it('replaces the file atomically with mode 0644 whatever the umask, in a 0755 directory', async () => {
    const path = join(dir, 'new', 'subnet.env');
    const old = process.umask(0o077);
    try {
      await writeSubnetFile(path, { network: IPNet.parse('10.1.0.0/16'), subnet: IPNet.parse('10.1.1.0/24'), mtu: 1450, ipMasq: false });
      await writeSubnetFile(path, { network: IPNet.parse('10.1.0.0/16'), subnet: IPNet.parse('10.1.2.0/24'), mtu: 1450, ipMasq: false });
    } finally {
      process.umask(old);
    }
    expect((await stat(path)).mode & 0o777).toBe(0o644);
    expect((await stat(join(dir, 'new'))).mode & 0o777).toBe(0o755);
    expect(await readdir(join(dir, 'new'))).toEqual(['subnet.env']);
    expect(await readFile(path, 'utf8')).toContain('FLANNEL_SUBNET=10.1.2.1/24');
  });

  it('reads back what it wrote, masking the subnets', async () => {
    const path = join(dir, 'subnet.env');
    const env = {
      network: IPNet.parse('10.244.0.0/16'),
      subnet: IPNet.parse('10.244.7.0/24'),
      ipv6Network: IPNet.parse('fd00::/56'),
      ipv6Subnet: IPNet.parse('fd00:0:0:7::/64'),
      mtu: 1450,
      ipMasq: true,
    };
    await writeSubnetFile(path, env);
    const back = await readSubnetFile(path);
    expect(back).toEqual({ networks: [env.network], subnet: env.subnet, ipv6Networks: [env.ipv6Network], ipv6Subnet: env.ipv6Subnet, mtu: 1450, ipMasq: true });
  });

  it('reads comma lists, skips invalid entries, and ignores a subnet key holding several values', async () => {
    const path = join(dir, 'subnet.env');
    await writeFile(
      path,
      '# written by hand\nexport FLANNEL_NETWORK="10.244.0.0/16,bogus,10.245.0.0/16"\nFLANNEL_SUBNET=10.244.1.1/24,10.244.2.1/24\nFLANNEL_IPV6_SUBNET=nonsense\nFLANNEL_MTU=abc\nFLANNEL_IPMASQ=yes\nOTHER=1\n',
    );
    const warnings: ReadWarning[] = [];
    const env = await readSubnetFile(path, (w) => warnings.push(w));
    expect(env?.networks.map(String)).toEqual(['10.244.0.0/16', '10.245.0.0/16']);
    expect(env?.subnet).toBeUndefined();
    expect(env?.ipv6Subnet).toBeUndefined();
    expect(env?.mtu).toBeUndefined();
    expect(env?.ipMasq).toBe(false);
    expect(warnings.map((w) => w.key)).toEqual(['FLANNEL_NETWORK', 'FLANNEL_SUBNET', 'FLANNEL_IPV6_SUBNET', 'FLANNEL_MTU']);
  });

  it('gives undefined when there is no file yet', async () => {
    expect(await readSubnetFile(join(dir, 'absent.env'))).toBeUndefined();
  });
});

describe('writeSubnetFile in a directory others can write', () => {
  it('never writes through a planted temp-file symlink, and names the path when it cannot write', async () => {
    const { mkdtempSync, symlinkSync, readFileSync, writeFileSync, existsSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const dir = mkdtempSync(join(tmpdir(), 'subnet-env-'));
    const victim = join(dir, 'victim');
    writeFileSync(victim, 'untouched');
    symlinkSync(victim, join(dir, `.subnet.env.${process.pid}.tmp`));
    const env = { network: IPNet.parse('10.244.0.0/16'), subnet: IPNet.parse('10.244.1.0/24'), mtu: 1450, ipMasq: false };
    await writeSubnetFile(join(dir, 'subnet.env'), env);
    expect(readFileSync(victim, 'utf8')).toBe('untouched');
    expect(readFileSync(join(dir, 'subnet.env'), 'utf8')).toContain('FLANNEL_SUBNET=10.244.1.1/24');
    // A path whose directory is a file: the error names the path, not just an errno.
    await expect(writeSubnetFile(join(victim, 'subnet.env'), env)).rejects.toThrow(`cannot write ${join(victim, 'subnet.env')}: EEXIST`);
    expect(existsSync(join(dir, `.subnet.env.${process.pid}.tmp`))).toBe(false);
    await rm(dir, { recursive: true, force: true });
  });
});
