#!/bin/sh
# Runs inside the vivid VM (chrooted into the host's root): the commands run.sh checks.
foveal=$1 weights=$2
echo "@@cameras"; $foveal cameras --json; echo "@@/cameras"
# The shipped model (no --weights), so the lines carry its presence head's presence and face.
echo "@@track-rgb"; $foveal track --camera /dev/video0 --count 30 --format jsonl 2>/tmp/rgb.err
echo "@@/track-rgb"; echo "@@status-rgb $?"; cat /tmp/rgb.err
echo "@@track-yuyv"; $foveal track --camera /dev/video0 --count 30 --format jsonl --pixel-format YUYV --weights "$weights" 2>/tmp/yuyv.err
echo "@@/track-yuyv"; echo "@@status-yuyv $?"; cat /tmp/yuyv.err
echo "@@mode-rgb"; grep '^camera ' /tmp/rgb.err; echo "@@/mode-rgb"
echo "@@mode-yuyv"; grep '^camera ' /tmp/yuyv.err; echo "@@/mode-yuyv"
# The busy, unplug and reconnect checks run at 640x480, their timing as it has been.
$foveal track --camera /dev/video0 --size 640x480 --duration 60 --format jsonl --weights "$weights" >/dev/null 2>&1 &
first=$!
sleep 20
echo "@@busy"; $foveal track --camera /dev/video0 --size 640x480 --count 5 --weights "$weights" 2>&1 >/dev/null | grep -v '^tracking'
echo "@@/busy"
$foveal track --camera /dev/video0 --size 640x480 --count 5 --weights "$weights" >/dev/null 2>&1; echo "@@status-busy $?"
kill -TERM $first; wait $first
echo "@@notcamera"; $foveal track --camera /dev/null --weights "$weights" 2>&1; echo "@@/notcamera"
# Unplugged mid-stream: vivid's "disconnect" control acts as a USB unplug.
$foveal track --camera /dev/video0 --size 640x480 --duration 60 --format jsonl --weights "$weights" >/dev/null 2>/tmp/unplug.err &
tracker=$!
sleep 25; v4l2-ctl -d /dev/video0 -c disconnect=1 >/dev/null 2>&1; wait $tracker; echo "@@status-unplug $?"
echo "@@unplug"; grep -v '^tracking\|^camera ' /tmp/unplug.err; echo "@@/unplug"
sleep 2
# With --reconnect the tracker reopens the camera and carries on.
$foveal track --camera /dev/video0 --size 640x480 --count 120 --format jsonl --reconnect --weights "$weights" >/tmp/reconnect.out 2>/tmp/reconnect.err &
tracker=$!
# Unplugged once it delivers frames (it must not finish its 120 before the unplug).
for i in $(seq 240); do [ "$(wc -l < /tmp/reconnect.out)" -ge 10 ] && break; sleep 0.25; done
v4l2-ctl -d /dev/video0 -c disconnect=1 >/dev/null 2>&1; wait $tracker; echo "@@status-reconnect $?"
echo "@@reconnect"; grep -c gaze_cm /tmp/reconnect.out; grep -c reconnecting /tmp/reconnect.err; echo "@@/reconnect"
# --size still decides: 640x480, at vivid's 25 fps.
echo "@@track-vga"; $foveal track --camera /dev/video0 --size 640x480 --count 10 --format jsonl --weights "$weights" 2>/tmp/vga.err | grep -c gaze_cm
grep '^camera ' /tmp/vga.err; echo "@@/track-vga"
