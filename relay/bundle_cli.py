"""The relay's side of ``villagecourt bundle ...`` (node/bundles.py has the command).

``relay_signer`` gives the relay's identity, key and certificate and the county CA, so a
test or a script can export and import bundles at the county without the CLI.
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path
from typing import Awaitable, Callable

from store import DocumentStore
from store.blobs import BlobStore
from sync.bundle import Signer

from .ca import load_cert, load_key
from .config import RelayHome, default_relay_home


def relay_signer(home: RelayHome) -> Signer:
    cfg = home.load()
    ca = home.ca
    # Villages encrypt their records to the county CA they pin: the relay opens them with it.
    return Signer(cfg.identity, load_key(ca.relay_key_file), load_cert(ca.relay_cert_file),
                  ca.cert(), box_key=ca.key())


def relay_bundle(args: argparse.Namespace,
                 run: Callable[[DocumentStore, Signer, BlobStore], Awaitable[int]]) -> int:
    home = RelayHome(Path(args.relay_home).expanduser() if getattr(args, "relay_home", None)
                     else default_relay_home())
    signer = relay_signer(home)

    async def main() -> int:
        store = await home.open_store()
        blobs = await BlobStore.open(home.blob_index_file, home.path / "blobs", floor=0)
        try:
            return await run(store, signer, blobs)
        finally:
            await blobs.close()
            await store.close()

    return asyncio.run(main())
