"""Sync over a village uplink: 64 kbit/s each way, 400 ms round trip (issue #6).

    python -m bench.slowlink_bench [--cases 1000] [--repeats 3] [--kbps 64] [--rtt-ms 400]

A real relay (mutual TLS on 127.0.0.1) and a real provisioned node, with the link
simulator (sync/linksim.py) between them. Reports, as medians of repeats:

- cold sync of N cases: wall time against the floor, where
  floor = max(bytes up, bytes down) × 8 ÷ bandwidth + round trips × RTT, and the round
  trips are the fewest any session needs across the simulated link: TLS 1.3, the
  WebSocket upgrade, the Hello exchange and the last acknowledgement (4; the simulator
  accepts TCP locally, so the TCP handshake itself crosses no simulated delay).
  Bytes are everything the link carried (TLS records, WebSocket framing, frames).
  Target ≤ 1.5 × floor. Transfer and waiting overlap, so a ratio just under 1 is
  possible.
- incremental sync after one edit, over the same link, against the same kind of floor.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import ed25519

from node import Node
from node.daemon import Syncer
from node.identity import keys_of
from relay.app import start
from relay.ca import cert_pem, issue, private_pem
from relay.config import RelayHome
from store import casedoc
from store.records import CASE, Party
from sync.linksim import LinkSim
from sync.scopes import Identity

SETUP_ROUND_TRIPS = 4  # TLS 1.3, WebSocket upgrade, Hello exchange, final Ack


async def make_node(root: Path, relay_home: RelayHome, url: str, name: str) -> Node:
    node = await Node.create(root / name, village="BY", village_name="白云村", county="KC")
    ca = relay_home.ca
    key = ed25519.Ed25519PrivateKey.generate()
    ident = Identity(node.config.node_id, "director", "KC", "BY")
    cert = issue(ca.key(), ca.cert(), key.public_key(), ident)
    keys_of(node.home).write(private_pem(key), cert_pem(cert), cert_pem(ca.cert()))
    node.config.relay_url = url
    return node


async def fill(node: Node, n: int) -> None:
    for i in range(n):
        await node.store.create(CASE, node.config.scope, lambda d, i=i: casedoc.new_case(
            d, number=f"BY-1-{i:04d}", category="neighbour", title=f"case {i} 邻里纠纷",
            parties=[Party("applicant", "张三"), Party("respondent", "李四")]))


async def one_run(cases: int, kbps: float, rtt_ms: float) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        home = RelayHome(root / "relay")
        home.init("KC", host="127.0.0.1", port=0)
        relay = await start(home, "127.0.0.1", 0, tls=True)
        sim = LinkSim("127.0.0.1", relay.port, bandwidth_bps=kbps * 1000,
                      latency_s=rtt_ms / 2000, seed=1)
        host, port = await sim.start()
        node = await make_node(root, home, f"wss://{host}:{port}/v1/sync", "a")
        try:
            await fill(node, cases)
            syncer = Syncer(node, discovery=False)
            out: dict[str, float] = {}
            for phase in ("cold", "incremental"):
                if phase == "incremental":
                    (doc_id,), = [r for r in await node.store.query(
                        "SELECT doc_id FROM docs WHERE kind = 'case' LIMIT 1")]
                    await node.store.edit(doc_id, lambda d: casedoc.change_status(
                        d, "mediating"))
                up0, down0 = sim.bytes_up, sim.bytes_down
                t0 = time.perf_counter()
                result = await syncer.sync_relay()
                wall = time.perf_counter() - t0
                assert result.ok, result.error
                up, down = sim.bytes_up - up0, sim.bytes_down - down0
                floor = max(up, down) * 8 / (kbps * 1000) + SETUP_ROUND_TRIPS * rtt_ms / 1000
                out[f"{phase}_s"] = wall
                out[f"{phase}_floor_s"] = floor
                out[f"{phase}_ratio"] = wall / floor
                out[f"{phase}_bytes"] = up + down
            return out
        finally:
            await node.close()
            await sim.stop()
            await relay.stop()


async def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cases", type=int, default=1000)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--kbps", type=float, default=64.0)
    p.add_argument("--rtt-ms", type=float, default=400.0)
    args = p.parse_args()
    runs = [await one_run(args.cases, args.kbps, args.rtt_ms) for _ in range(args.repeats)]

    def med(key: str) -> float:
        return statistics.median(r[key] for r in runs)

    print(f"link: {args.kbps:g} kbit/s each way, {args.rtt_ms:g} ms round trip; "
          f"{args.cases} headline cases; median of {args.repeats}")
    print(f"{'sync':<13}{'wall s':>9}{'floor s':>9}{'ratio':>8}{'bytes':>10}{'B/case':>8}")
    for phase in ("cold", "incremental"):
        per = med(f"{phase}_bytes") / (args.cases if phase == "cold" else 1)
        print(f"{phase:<13}{med(phase + '_s'):>9.2f}{med(phase + '_floor_s'):>9.2f}"
              f"{med(phase + '_ratio'):>8.2f}{med(phase + '_bytes'):>10.0f}{per:>8.0f}")
    print("target: ratio ≤ 1.5")


if __name__ == "__main__":
    asyncio.run(main())
