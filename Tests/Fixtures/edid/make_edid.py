"""Writes the EDID fixtures: two real displays' EDIDs, as published in the linuxhw/EDID collection
(hex dumps of edid-decode), and blobs derived from them to test refusals.

  dell-u2415.bin        Dell U2415 monitor (linuxhw/EDID Digital/Dell/DELA0BC/0264F21A6FED, first
                        two blocks): EDID 1.3, 1920x1200, detailed timing 518 x 324 mm, basic 52 x 32 cm
  auo-b140-laptop.bin   AU Optronics 14-inch laptop panel (Digital/AU Optronics/AUO103D/1269671A58A2):
                        EDID 1.4, 1920x1080, 309 x 173 mm, no product name
  no-timing-size.bin    the panel with its detailed timings' image size zeroed (checksum fixed): the
                        basic block's 31 x 17 cm is all that is left
  no-size.bin           ... and the basic block's size zeroed too: no physical size at all
  bad-checksum.bin      the Dell's base block with one byte changed
  truncated.bin         the Dell's first 100 bytes
"""
import os

here = os.path.dirname(os.path.abspath(__file__))
dell = bytes.fromhex("""
00 ff ff ff ff ff ff 00 10 ac bc a0 4c 56 50 30 18 1c 01 03 80 34 20 78 ea 04 95 a9 55 4d 9d 26
10 50 54 a5 4b 00 71 4f 81 80 a9 40 d1 c0 d1 00 01 01 01 01 01 01 28 3c 80 a0 70 b0 23 40 30 20
36 00 06 44 21 00 00 1e 00 00 00 ff 00 37 4d 54 30 31 38 36 42 30 50 56 4c 0a 00 00 00 fc 00 44
45 4c 4c 20 55 32 34 31 35 0a 20 20 00 00 00 fd 00 31 3d 1e 53 11 00 0a 20 20 20 20 20 20 01 77
02 03 22 f1 4f 90 05 04 03 02 07 16 01 14 1f 12 13 20 21 22 23 09 07 07 65 03 0c 00 20 00 83 01
00 00 02 3a 80 18 71 38 2d 40 58 2c 45 00 06 44 21 00 00 1e 01 1d 80 18 71 1c 16 20 58 2c 25 00
06 44 21 00 00 9e 01 1d 00 72 51 d0 1e 20 6e 28 55 00 06 44 21 00 00 1e 8c 0a d0 8a 20 e0 2d 10
10 3e 96 00 06 44 21 00 00 18 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 72
""")
panel = bytes.fromhex("""
00 ff ff ff ff ff ff 00 06 af 3d 10 00 00 00 00 00 19 01 04 95 1f 11 78 02 e2 95 9e 59 52 99 26
1c 50 54 00 00 00 01 01 01 01 01 01 01 01 01 01 01 01 01 01 01 01 14 37 80 b4 70 38 26 40 30 64
31 00 35 ad 10 00 00 18 b8 24 80 b4 70 38 26 40 30 64 31 00 35 ad 10 00 00 18 00 00 00 00 00 00
00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 02 00 10 36 ff 0f 3c 96 1b 10 28 96 20 20 20 00 9e
""")
assert len(dell) == 256 and len(panel) == 128 and sum(dell[:128]) % 256 == 0 and sum(panel) % 256 == 0


def fixed(block):
    block = bytearray(block)
    block[127] = (-sum(block[:127])) % 256
    return bytes(block)


no_timing = bytearray(panel)
for d in (54, 72):  # both detailed timings: image size bytes 12-14
    no_timing[d + 12:d + 15] = b"\0\0\0"
no_size = bytearray(no_timing)
no_size[21:23] = b"\0\0"
bad = bytearray(dell[:128])
bad[21] ^= 0x01
files = {"dell-u2415.bin": dell, "auo-b140-laptop.bin": panel, "no-timing-size.bin": fixed(no_timing),
         "no-size.bin": fixed(no_size), "bad-checksum.bin": bytes(bad), "truncated.bin": dell[:100]}
for name, data in files.items():
    open(os.path.join(here, name), "wb").write(data)
print("wrote", ", ".join(files))
