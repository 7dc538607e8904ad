"""USB bundles and media transfer (issue #8).

    python -m bench.bundle_bench bundle [--cases 10000]
        export and import of a village's cases on a stick: time, bytes per case
    python -m bench.bundle_bench media [--mb 20] [--kbps 64] [--rtt-ms 400] [--cuts 5]
        one video over a slow link cut N times: bytes sent / file size, time / floor
    python -m bench.bundle_bench fanout [--villages 200] [--mb 20]
        villages fetching the same video from one relay at once: all complete, relay
        peak RSS (the relay runs as its own process: `villagecourt relay serve`)

Everything is real: a TLS relay on 127.0.0.1, certificates from its county CA, SQLite
stores in a temporary directory, the link simulator of sync/linksim.py.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
from cryptography.hazmat.primitives.asymmetric import ed25519

from bench.harsh_procs import proc_status_kb
from node import Node
from node.bundles import node_signer
from node.daemon import Syncer
from node.identity import keys_of
from node.media import MediaService
from relay.app import start
from relay.bundle_cli import relay_signer
from relay.ca import cert_pem, issue, private_pem
from relay.config import RelayHome
from relay.content import BLOBS, add_item
from store import casedoc
from store.blobs import BLOCK_SIZE
from store.records import CASE, Party
from sync.bundle import export_bundle, import_bundle
from sync.errors import TransportClosed
from sync.linksim import LinkSim
from sync.media import FetchStats, fetch_blob
from sync.scopes import Identity
from sync.tls import client_context


async def make_node(root: Path, relay_home: RelayHome, url: str, name: str,
                    village: str = "BY") -> Node:
    node = await Node.create(root / name, village=village, village_name="白云村", county="KC")
    ca = relay_home.ca
    key = ed25519.Ed25519PrivateKey.generate()
    cert = issue(ca.key(), ca.cert(), key.public_key(),
                 Identity(node.config.node_id, "director", "KC", village))
    keys_of(node.home).write(private_pem(key), cert_pem(cert), cert_pem(ca.cert()))
    node.config.relay_url = url
    node.home.save(node.config)
    return node


def _du(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


async def bench_bundle(cases: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        home = RelayHome(root / "relay")
        home.init("KC", host="127.0.0.1", port=0)
        relay = await start(home, "127.0.0.1", 0, tls=True)
        node = await make_node(root, home, f"wss://127.0.0.1:{relay.port}/v1/sync", "a")
        try:
            t0 = time.perf_counter()
            for i in range(cases):
                await node.store.create(CASE, node.config.scope, lambda d, i=i: casedoc.new_case(
                    d, number=f"BY-1-{i:05d}", category="neighbour", title=f"案件 {i} 邻里纠纷",
                    parties=[Party("applicant", "张三", "13800138000"),
                             Party("respondent", "李四")]))
            print(f"filled {cases} cases in {time.perf_counter() - t0:.1f} s")
            stick = root / "stick"
            t0 = time.perf_counter()
            exp = await export_bundle(node.store, node_signer(node), stick)
            t_exp = time.perf_counter() - t0
            size = _du(stick)
            sig = relay_signer(home)
            t0 = time.perf_counter()
            r = await import_bundle(relay.store, sig.identity, sig.ca, stick,
                                    decrypt_key=sig.box)
            t_imp = time.perf_counter() - t0
            assert not r.refused and r.changed == exp.docs
            t0 = time.perf_counter()
            again = await import_bundle(relay.store, sig.identity, sig.ca, stick,
                                        decrypt_key=sig.box)
            t_again = time.perf_counter() - t0
            assert again.nothing_new
            print(f"{'cases':>7}{'export s':>10}{'import s':>10}{'re-import s':>12}"
                  f"{'stick MB':>10}{'B/case':>8}")
            print(f"{cases:>7}{t_exp:>10.2f}{t_imp:>10.2f}{t_again:>12.2f}"
                  f"{size / 1e6:>10.2f}{size / cases:>8.0f}")
        finally:
            await node.close()
            await relay.stop()


async def bench_media(mb: float, kbps: float, rtt_ms: float, cuts: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        home = RelayHome(root / "relay")
        home.init("KC", host="127.0.0.1", port=0)
        relay = await start(home, "127.0.0.1", 0, tls=True)
        video = root / "video.mp4"
        size = int(mb * 1e6)
        video.write_bytes(os.urandom(size))
        doc_id = await add_item(relay.store, relay.app[BLOBS], "KC", [video], title="以案说法",
                                topic="婚姻家庭", content_kind="video")
        node = await make_node(root, home, f"wss://127.0.0.1:{relay.port}/v1/sync", "a")
        sim = LinkSim("127.0.0.1", relay.port, bandwidth_bps=kbps * 1000,
                      latency_s=rtt_ms / 2000, seed=1)
        host, port = await sim.start()
        try:
            assert (await Syncer(node, discovery=False).sync_relay()).ok
            media = await MediaService(node).open()
            item = await node.education.get(doc_id)
            m = item.media[0]
            await media.blobs.want(m["sha256"], m["length"], m["blocks"])
            ctx = keys_of(node.home).client_context()
            stats, resume = FetchStats(), {}
            # cut points spread over the transfer (bytes down per connection)
            per = size // (cuts + 1)
            done = False
            t0 = time.perf_counter()

            def link_cuts() -> int:
                return sum(1 for c in sim.connections if c.cut_reason == "cut_after_bytes")

            while not done:
                # A cut between two responses is retried by aiohttp on a new connection
                # without raising, so count the cuts the link made, not the exceptions.
                sim.configure(cut_after_bytes=per if link_cuts() < cuts else None,
                              cut_counting="down")
                try:
                    done = await fetch_blob(media.blobs, f"https://{host}:{port}", m["sha256"],
                                            ssl_context=ctx, stats=stats, resume=resume,
                                            timeout_s=None)  # type: ignore[arg-type]
                except TransportClosed:
                    pass
            wall = time.perf_counter() - t0
            n_cuts = link_cuts()
            path = await media.blobs.path(m["sha256"])
            assert path and hashlib.sha256(path.read_bytes()).hexdigest() == m["sha256"]
            floor = size * 8 / (kbps * 1000) + 2 * rtt_ms / 1000
            blocks = -(-size // BLOCK_SIZE)
            print(f"video {size / 1e6:.1f} MB ({blocks} blocks), {kbps:g} kbit/s, "
                  f"{rtt_ms:g} ms RTT, {n_cuts} cuts")
            print("connections (bytes down, how each ended): " + ", ".join(
                f"{c.bytes_down}:{c.cut_reason or 'open'}" for c in sim.connections))
            print(f"bytes sent / file size: {sim.bytes_down / size:.4f}   (target <= 1.02)")
            print(f"time / floor:           {wall / floor:.3f}   ({wall:.1f} s / {floor:.1f} s;"
                  " target <= 1.2)")
            await media.close()
        finally:
            await node.close()
            await sim.stop()
            await relay.stop()


async def bench_fanout(villages: int, mb: float) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        home = RelayHome(root / "relay")
        home.init("KC", host="127.0.0.1", port=0)
        video = root / "video.mp4"
        size = int(mb * 1e6)
        video.write_bytes(os.urandom(size))
        exe = [sys.executable, "-m", "node", "relay", "--relay-home", str(home.path)]
        subprocess.run(exe + ["content", "add", str(video), "--title", "以案说法",
                              "--topic", "婚姻家庭", "--kind", "video"], check=True,
                       capture_output=True)
        port = 20000 + os.getpid() % 20000
        proc = subprocess.Popen(exe + ["serve", "--host", "127.0.0.1", "--port", str(port)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            from relay.content import list_items
            from store import Store

            for _ in range(100):
                try:
                    _, w = await asyncio.open_connection("127.0.0.1", port)
                    w.close()
                    break
                except OSError:
                    await asyncio.sleep(0.1)
            store = await Store.open(home.store_file, key=home.store_key())
            item = (await list_items(store))[0]
            await store.close()
            m = item.media[0]
            sha, count = m["sha256"], len(m["blocks"]) // 32
            ca = home.ca
            ctxs = []
            for v in range(villages):
                d = root / f"v{v}"
                d.mkdir()
                key = ed25519.Ed25519PrivateKey.generate()
                cert = issue(ca.key(), ca.cert(), key.public_key(),
                             Identity(f"n{v:04d}", "director", "KC", f"V{v:03d}"))
                (d / "k.pem").write_bytes(private_pem(key))
                (d / "c.pem").write_bytes(cert_pem(cert))
                ctxs.append(client_context(ca.ca_cert_file, d / "c.pem", d / "k.pem"))
            base_rss = proc_status_kb(proc.pid, "VmRSS")

            async def village(ctx: object) -> bool:
                h = hashlib.sha256()
                async with aiohttp.ClientSession() as http:
                    for n in range(count):
                        async with http.get(f"https://127.0.0.1:{port}/v1/blobs/{sha}/{n}",
                                            ssl=ctx) as resp:
                            assert resp.status == 200, resp.status
                            h.update(await resp.read())
                return h.hexdigest() == sha

            peak = 0

            async def watch() -> None:
                nonlocal peak
                while True:
                    peak = max(peak, proc_status_kb(proc.pid, "VmRSS"))
                    await asyncio.sleep(0.2)

            watcher = asyncio.create_task(watch())
            t0 = time.perf_counter()
            ok = await asyncio.gather(*(village(c) for c in ctxs))
            wall = time.perf_counter() - t0
            watcher.cancel()
            print(f"{villages} villages x {size / 1e6:.1f} MB: {sum(ok)}/{villages} complete "
                  f"with the right hash in {wall:.1f} s")
            print(f"relay RSS before {base_rss / 1024:.1f} MB, peak during "
                  f"{peak / 1024:.1f} MB, high-water mark "
                  f"{proc_status_kb(proc.pid, 'VmHWM') / 1024:.1f} MB")
        finally:
            proc.terminate()
            proc.wait(10)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="what", required=True)
    s = sub.add_parser("bundle")
    s.add_argument("--cases", type=int, default=10_000)
    s = sub.add_parser("media")
    s.add_argument("--mb", type=float, default=20.0)
    s.add_argument("--kbps", type=float, default=64.0)
    s.add_argument("--rtt-ms", type=float, default=400.0)
    s.add_argument("--cuts", type=int, default=5)
    s = sub.add_parser("fanout")
    s.add_argument("--villages", type=int, default=200)
    s.add_argument("--mb", type=float, default=20.0)
    a = p.parse_args()
    if a.what == "bundle":
        asyncio.run(bench_bundle(a.cases))
    elif a.what == "media":
        asyncio.run(bench_media(a.mb, a.kbps, a.rtt_ms, a.cuts))
    else:
        asyncio.run(bench_fanout(a.villages, a.mb))


if __name__ == "__main__":
    main()
