#!/bin/sh
# Records the generic-netlink exchanges of wg(8) and genl(8) with the kernel's wireguard family, for the
# byte-level unit tests of core's encoder and decoder (core/src/netlink/wireguard.test.ts). Needs a kernel
# with wireguard and nlmon: run it in the nested kernel,
#
#   test/vm/vmrun --timeout 120 -- scripts/record-wireguard-netlink.sh > /tmp/wg-netlink.txt
#
# It prints one line per netlink message on the NETLINK_GENERIC socket, "<direction> <hex>", as nlmon saw
# it ("out": from a program to the kernel, "in": from the kernel to a program). The keys are throwaway test keys.
set -eu
K1='YB/2WofqO69W6t66B46zlqpb6EXlCVmpl5H+3K7zIXY='
P2='jTbrpui9F1lcWt18KRnDdKJRez/ckda5t/w1zTozCH4='
P3='L3cnyzSkDI20gHE4+PdSP9XwL3wvnIRTtj32hEk2Byc='
PSK='OvXZng3d+sk6F28sC5Z/sdFEQLluskZb5KXLbKhbUBE='
dir=$(mktemp -d)
printf '%s\n' "$K1" > "$dir/k1"
printf '%s\n' "$PSK" > "$dir/psk"
ip link add wg0 type wireguard
ip link add nlmon0 type nlmon
ip link set nlmon0 up
tcpdump -i nlmon0 -n -U -w "$dir/cap" 2>/dev/null &
tcpdump=$!
sleep 2 # tcpdump needs to be listening; this is a recording script, not a test
echo '# genl ctrl get name wireguard' > "$dir/marks"
genl ctrl get name wireguard > /dev/null
wg set wg0 private-key "$dir/k1" listen-port 51820 fwmark 0x10 \
  peer "$P2" preshared-key "$dir/psk" endpoint 192.0.2.12:51820 persistent-keepalive 25 allowed-ips 10.244.2.0/24,fd00:10:244:2::/64 \
  peer "$P3" endpoint '[2001:db8::13]:51821' allowed-ips 10.244.3.0/24
wg show wg0 dump > /dev/null
wg set wg0 peer "$P3" remove
sleep 2
kill "$tcpdump"
wait "$tcpdump" 2>/dev/null || true
# The pcap's packets: nlmon's 16-byte cooked header (bytes 14-15: the netlink protocol, 16 = generic),
# then one netlink message; requests (NLM_F_REQUEST) went to the kernel, the rest came from it.
node -e '
  const b = require("fs").readFileSync(process.argv[1]);
  const le = b.readUInt32LE(0) === 0xa1b2c3d4;
  const u32 = (o) => (le ? b.readUInt32LE(o) : b.readUInt32BE(o));
  for (let off = 24; off + 16 <= b.length; ) {
    const len = u32(off + 8);
    const pkt = b.subarray(off + 16, off + 16 + len);
    off += 16 + len;
    if (pkt.readUInt16BE(14) !== 16) continue;
    const msg = pkt.subarray(16);
    console.log(`${msg.readUInt16LE(6) & 1 ? "out" : "in "} ${msg.toString("hex")}`);
  }
' "$dir/cap"
