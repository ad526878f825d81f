"""Side by side: what three WebSocket clients of `foveal serve` receive with and without a fourth
client that completes the handshake and never reads. Usage: serve_clients.py URL SECONDS [--stalled]"""
import asyncio
import json
import socket
import sys
import time
import urllib.request

import websockets


async def reader(url, seconds, counts, index):
    frames = []
    async with websockets.connect(url + "v1/gaze/stream".replace("http", "ws"), max_queue=None) as ws:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            try:
                message = await asyncio.wait_for(ws.recv(), timeout=max(0.01, end - time.monotonic()))
            except asyncio.TimeoutError:
                break
            frames.append(json.loads(message)["frame"])
    counts[index] = frames


def stalled_client(url):
    host, port = url.split("//")[1].strip("/").split(":")
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1024)
    s.connect((host, int(port)))
    s.sendall(b"GET /v1/gaze/stream HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
              b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
    return s


async def main():
    url, seconds, stalled = sys.argv[1], float(sys.argv[2]), "--stalled" in sys.argv
    keep = stalled_client(url.replace("ws://", "http://")) if stalled else None
    counts = [None] * 3
    await asyncio.gather(*(reader(url.replace("http://", "ws://"), seconds, counts, i) for i in range(3)))
    health = json.load(urllib.request.urlopen(url.replace("ws://", "http://") + "v1/health"))
    rates = [len(c) / seconds for c in counts]
    in_order = all(c == sorted(c) and len(set(c)) == len(c) for c in counts)
    print(json.dumps({"stalled_client": stalled, "messages_per_second": [round(r, 1) for r in rates], "in_order": in_order,
                      "clients_dropped": health["clients"]["dropped"], "pipeline_fps": round(health["source"]["frames_per_second"], 1)}))
    if keep:
        keep.close()


asyncio.run(main())
