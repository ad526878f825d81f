"""Soak test of `foveal serve` (not CI): a replay served for a long time to clients that connect,
read, stall and leave, with API calls in between; the server's resident memory and open file
descriptors are sampled every minute.

    python3 Benchmarks/serve_soak.py [--minutes 60] [--binary .build/release/foveal]

Standard library only (WebSocket handshakes and frames by hand). Traffic goes to 127.0.0.1 only,
and every loop is bounded by the run's end. Prints one line per sample and a verdict: RSS growth
after the first 5 minutes (target: at most 10%) and the range of open descriptors.
"""
import argparse
import base64
import json
import os
import random
import socket
import subprocess
import tempfile
import threading
import time
import urllib.request


def handshake(port, path="/v1/gaze/stream"):
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    key = base64.b64encode(os.urandom(16)).decode()
    s.sendall((f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
    return s


def client(port, end, rng, stats):
    """One client's life: read for a while, or stall without reading, then leave."""
    kind = rng.choice(["reader", "reader", "reader", "staller", "quitter"])
    life = min(end - time.time(), rng.uniform(5, 90))
    if life <= 0:
        return
    try:
        s = handshake(port)
        s.settimeout(1)
        deadline = time.time() + life
        received = 0
        while time.time() < deadline:
            if kind == "staller":
                time.sleep(0.5)
                continue
            try:
                data = s.recv(65536)
            except socket.timeout:
                continue
            if not data:
                break
            received += len(data)
            if kind == "quitter" and received > 20000:
                break
        s.close()
        stats[kind] = stats.get(kind, 0) + 1
    except OSError as e:
        stats["errors"] = stats.get("errors", 0) + 1
        stats["last_error"] = str(e)


def api(port, rng, stats):
    base = f"http://127.0.0.1:{port}"
    try:
        choice = rng.random()
        if choice < 0.5:
            urllib.request.urlopen(base + "/v1/health", timeout=5).read()
        elif choice < 0.7:
            urllib.request.urlopen(base + "/v1/gaze/latest", timeout=5).read()
        elif choice < 0.85:
            urllib.request.urlopen(base + "/v1/calibrations", timeout=5).read()
        else:
            body = json.dumps({"name": f"u{rng.randrange(1 << 30)}"}).encode()
            req = urllib.request.Request(base + "/v1/users", data=body, headers={"Content-Type": "application/json"})
            urllib.request.urlopen(req, timeout=5).read()
        stats["api"] = stats.get("api", 0) + 1
    except Exception as e:  # noqa: BLE001 - a soak counts failures, it does not stop on them
        stats["api_errors"] = stats.get("api_errors", 0) + 1
        stats["last_api_error"] = str(e)


def sample(pid):
    rss = 0
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1]) / 1024
    return rss, len(os.listdir(f"/proc/{pid}/fd"))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--minutes", type=float, default=60)
    p.add_argument("--binary", default=".build/release/foveal")
    p.add_argument("--source", default="data/samples/gazecapture/00000")
    args = p.parse_args()
    db = os.path.join(tempfile.mkdtemp(), "soak.sqlite")
    server = subprocess.Popen([args.binary, "serve", "--source", args.source, "--loop", "--port", "0", "--db", db],
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        port = int(json.loads(server.stdout.readline())["url"].rstrip("/").rsplit(":", 1)[1])
        start = time.time()
        end = start + args.minutes * 60
        rng = random.Random(7)
        stats, threads, samples = {}, [], []
        next_sample = start
        while time.time() < end:
            if time.time() >= next_sample:
                rss, fds = sample(server.pid)
                minute = (time.time() - start) / 60
                samples.append((minute, rss, fds))
                live = sum(t.is_alive() for t in threads)
                print(f"minute {minute:5.1f}  rss {rss:7.1f} MB  fds {fds:4d}  clients alive {live:3d}  {json.dumps({k: v for k, v in stats.items() if not k.startswith('last')})}", flush=True)
                next_sample += 60
            threads = [t for t in threads if t.is_alive()]
            if len(threads) < 12 and rng.random() < 0.5:
                t = threading.Thread(target=client, args=(port, end, random.Random(rng.random()), stats), daemon=True)
                t.start()
                threads.append(t)
            api(port, rng, stats)
            time.sleep(rng.uniform(0.1, 0.6))
        for t in threads:
            t.join(timeout=5)
        rss, fds = sample(server.pid)
        samples.append(((time.time() - start) / 60, rss, fds))
        after5 = [s for s in samples if s[0] >= 5] or samples
        base = after5[0][1]
        growth = (max(s[1] for s in after5) - base) / base * 100
        print(f"samples {len(samples)}; RSS at 5 min {base:.1f} MB, highest after {max(s[1] for s in after5):.1f} MB "
              f"(growth {growth:.1f}%, target at most 10%); fds {min(s[2] for s in samples)}-{max(s[2] for s in samples)}; "
              f"{json.dumps(stats)}")
        print(f"server still running: {server.poll() is None}")
    finally:
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    main()
