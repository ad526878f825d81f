#!/usr/bin/env bash
# Foveal's capture module against a real V4L2 driver: boots the kernel's `vivid` virtual camera
# in a qemu VM (TCG), shares this machine's root read-only over 9p, and runs the host's own
# `foveal` inside it: `foveal cameras --json`, `foveal track --camera /dev/video0 --count 30
# --format jsonl` with vivid's native RGB24 and with YUYV converted by Foveal, and a busy camera.
# Checked by assertions here; exit status 0 when all hold.
#
# Usage: Tests/vivid/run.sh [FOVEAL_BINARY] [WEIGHTS]   (make test-camera; ~1-2 minutes)
# See ../shared/reference/vivid.md for the method.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
foveal=$(realpath "${1:-$repo/.build/release/foveal}")
weights=$(realpath "${2:-$repo/Tests/Fixtures/model/depth6.weights.safetensors}")
work=${VIVID_WORK:-/tmp/foveal-vivid}
mkdir -p "$work"
sudo=$([ "$(id -u)" = 0 ] || echo sudo)

need=(qemu-system-x86 busybox-static v4l-utils kmod cpio)
missing=$(for p in "${need[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || echo "$p"; done)
if [ -n "$missing" ]; then
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

# The distribution kernel, unpacked (not installed): it ships vivid as a module.
package=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-/{print $2; exit}')
version=${package#linux-image-}
if [ ! -d "$work/kernel/lib/modules/$version" ]; then
  (cd "$work" && rm -f linux-image-*.deb && apt-get download "$package" >/dev/null && dpkg-deb -x linux-image-*.deb kernel)
  depmod -b "$work/kernel" "$version"
fi
vmlinuz=$work/kernel/boot/vmlinuz-$version

# A tiny initramfs: busybox, the modules vivid and 9p need, and an init that runs the test.
root=$work/initramfs
rm -rf "$root" && mkdir -p "$root"/{bin,dev,proc,sys,host,lib/modules}
cp /bin/busybox "$root/bin/busybox"
for applet in $(/bin/busybox --list); do [ "$applet" = busybox ] || ln -s busybox "$root/bin/$applet"; done
mods=$(for m in vivid virtio_pci 9pnet_virtio 9p; do
  modprobe -d "$work/kernel" -S "$version" --show-depends "$m" | awk '/^insmod/{print $2}'; done | awk '!seen[$0]++')
for m in $mods; do
  rel=${m#"$work/kernel"}
  mkdir -p "$root$(dirname "$rel")" && cp "$m" "$root$rel"
done
printf '%s\n' $mods | sed "s|$work/kernel||" > "$root/modules.order"
cat > "$root/init" <<INIT
#!/bin/sh
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
for m in \$(cat /modules.order); do
  case \$m in *vivid*) insmod \$m n_devs=1 node_types=0x1 ;; *) insmod \$m ;; esac
done
mount -t 9p -o trans=virtio,version=9p2000.L,ro hostroot /host
mount -t devtmpfs dev /host/dev; mount -t proc proc /host/proc; mount -t sysfs sys /host/sys
mount -t tmpfs tmp /host/tmp; mount -t tmpfs run /host/run
echo "@@BEGIN"
chroot /host /bin/sh $here/inside.sh "$foveal" "$weights"
echo "@@END \$?"
poweroff -f
INIT
chmod +x "$root/init"
(cd "$root" && find . | cpio -o -H newc 2>/dev/null | gzip -1 > "$work/initramfs.gz")

log=$work/console.log
timeout 600 qemu-system-x86_64 -accel tcg -cpu max -m 2048 -smp 2 -nographic -no-reboot \
  -kernel "$vmlinuz" -initrd "$work/initramfs.gz" -append "console=ttyS0 quiet panic=-1" \
  -virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap \
  < /dev/null 2>&1 | tr -d '\r' | sed 's/\x1b\[[0-9;?]*[a-zA-Z]//g' > "$log" || true

# The results: sections between markers written by inside.sh.
section() { awk -v s="@@$1" -v e="@@/$1" '$0==s{f=1;next} $0==e{f=0} f' "$log"; }
fail=0
check() { if eval "$2"; then echo "ok   $1"; else echo "FAIL $1"; fail=1; fi; }
cameras=$(section cameras)
check "cameras --json lists /dev/video0 (vivid) with RGB3 640x480" \
  "echo '$cameras' | python3 -c 'import json,sys; c=json.load(sys.stdin); d=[x for x in c if x[\"path\"]==\"/dev/video0\"][0]; assert d[\"driver\"]==\"vivid\"; assert any(m[\"pixelFormat\"]==\"RGB3\" and m[\"width\"]==640 and m[\"height\"]==480 for m in d[\"modes\"]); assert any(m[\"pixelFormat\"]==\"YUYV\" for m in d[\"modes\"])'"
for variant in rgb yuyv; do
  out=$(section "track-$variant")
  keys='"gaze_cm"'; [ $variant = rgb ] && keys='"gaze_cm", "presence", "face"'
  check "track ($variant) printed 30 JSON lines with $keys" \
    "[ \$(echo '$out' | python3 -c 'import json,sys; print(sum(1 for l in sys.stdin if {$keys} <= json.loads(l).keys()))') = 30 ]"
  check "track ($variant) exited 0" "grep -q '^@@status-$variant 0\$' '$log'"
done
check "without --size, HD: 1280x720 RGB24 at 12.5 fps (vivid has no HD mode at 25 fps)" \
  "[ \"\$(section mode-rgb)\" = 'camera /dev/video0: 1280x720 RGB24 at 12.5 fps' ]"
check "--pixel-format YUYV: 1280x720 YUYV at 12.5 fps" "[ \"\$(section mode-yuyv)\" = 'camera /dev/video0: 1280x720 YUYV at 12.5 fps' ]"
check "--size 640x480: 10 gaze points from 640x480 frames at 25 fps" \
  "[ \"\$(section track-vga | tr '\n' '|')\" = '10|camera /dev/video0: 640x480 RGB24 at 25 fps|' ]"
check "a second tracker on a busy camera: one-line error, exit 1" \
  "[ \"\$(section busy)\" = 'foveal: /dev/video0: camera is busy (another program is using it)' ] && grep -q '^@@status-busy 1\$' '$log'"
check "a path that is not a camera: one-line error" "[ \"\$(section notcamera)\" = 'foveal: /dev/null: not a V4L2 device' ]"
check "unplugged mid-stream: one-line error, exit 1" \
  "[ \"\$(section unplug)\" = 'foveal: /dev/video0: camera disconnected' ] && grep -q '^@@status-unplug 1\$' '$log'"
check "--reconnect: reopened after the unplug and delivered all 120 frames" \
  "[ \"\$(section reconnect | tr '\n' ' ')\" = '120 1 ' ] && grep -q '^@@status-reconnect 0\$' '$log'"
if [ $fail != 0 ]; then echo "console log: $log"; fi
exit $fail
