#!/bin/sh
# PID 1 of the vmrun guest: mount the host's / read-only under a tmpfs overlay, the job and shared
# folders read-write, point module autoloading at the real root's modprobe, run the job, power off.
export PATH=/bin
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
for m in $(cat /mods/order); do insmod /mods/$m.ko || echo "vmrun-init: insmod $m failed"; done
param() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" /proc/cmdline; }
JOB=$(param vmrun.job); KDIR=$(param vmrun.kdir); SHARES=$(param vmrun.shares)
die() { echo "vmrun-init: $*"; poweroff -f; }
# The host's root with cache=loose: the guest keeps what it read (node, libraries) in its page cache instead of
# asking the host again for every read. The shared folders stay uncached: the host may change a checkout during
# a run (a rebuild of flanneld's bundle), and a guest holding an old file beside new ones would fail.
p9() { mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000$3 "$1" "$2"; }

p9 hostroot /lower ,ro,cache=loose || die "cannot mount the host root"
mount -t tmpfs -o size=75% tmpfs /ovl; mkdir -p /ovl/upper /ovl/work
mount -t overlay overlay -o lowerdir=/lower,upperdir=/ovl/upper,workdir=/ovl/work /newroot || die "overlay"
R=/newroot
mount -t proc proc $R/proc; mount -t sysfs sys $R/sys; mount -t devtmpfs dev $R/dev
mkdir -p $R/dev/pts $R/dev/shm; mount -t devpts devpts $R/dev/pts; mount -t tmpfs tmpfs $R/dev/shm
# /tmp stays the overlay's: the host's /tmp may hold the repository (a CI clone) and the kernel cache.
mount -t tmpfs tmpfs $R/run
mkdir -p $R/lib/modules; mount -o bind $R$KDIR/lib/modules $R/lib/modules || die "kernel modules"
mkdir -p $R$JOB; p9 job $R$JOB "" || die "job folder"
i=0
while [ $i -lt ${SHARES:-0} ]; do
  d=$(cat $R$JOB/share$i); mkdir -p $R$d; p9 share$i $R$d "" || die "share $d"; i=$((i + 1))
done
echo /bin/modprobe-in-root > /proc/sys/kernel/modprobe
chroot $R /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root TERM=dumb /bin/sh $JOB/run.sh
chroot $R /bin/sync # whatever the job wrote still in the guest's cache, before the power goes
poweroff -f
