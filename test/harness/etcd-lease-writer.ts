// Writes fake vxlan peer leases into etcd, for the convergence benchmark. Run inside the store namespace:
//   node etcd-lease-writer.js ENDPOINT PREFIX FIRST COUNT
// Lease i: subnet 100.64.0.0/10 + (i+1) * /24, PublicIP 198.18.0.0/15 + i + 1, VtepMAC 0a:00:00:<i>.
// Prints {"doneAt": <epoch ms when the last write was acknowledged>}.
import { Etcd3 } from 'etcd3';

const [endpoint, prefix, firstText, countText] = process.argv.slice(2) as [string, string, string, string];
const first = Number(firstText);
const count = Number(countText);
const v4 = (n: number) => [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
const hex = (n: number) => n.toString(16).padStart(2, '0');

const client = new Etcd3({ hosts: endpoint });
const lease = client.lease(86400, { autoKeepAlive: false });
const leaseID = await lease.grant();
const PER_TXN = 100; // etcd allows 128 operations per transaction
for (let i = first; i < first + count; i += PER_TXN) {
  const puts = [];
  for (let j = i; j < Math.min(i + PER_TXN, first + count); j++) {
    const subnet = v4(((100 << 24) | (64 << 16)) + (j + 1) * 256);
    const value = JSON.stringify({
      PublicIP: v4(((198 << 24) | (18 << 16)) + j + 1),
      PublicIPv6: null,
      BackendType: 'vxlan',
      BackendData: { VNI: 1, VtepMAC: `0a:00:00:${hex((j >> 16) & 255)}:${hex((j >> 8) & 255)}:${hex(j & 255)}` },
    });
    puts.push(client.put(`${prefix}/subnets/${subnet}-24`).value(value).lease(leaseID));
  }
  // A transaction whose guard always holds (the config exists) is etcd's way to batch puts.
  await client
    .if(`${prefix}/config`, 'Version', '>', 0)
    .then(...puts)
    .commit();
}
console.log(JSON.stringify({ doneAt: Date.now() }));
client.close();
