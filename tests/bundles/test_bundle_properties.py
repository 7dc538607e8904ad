"""Property tests (hypothesis): bundle import against truncated and corrupted bundles.

Whatever happens to the files on a stick (a file cut short, bytes flipped, a file gone,
garbage appended, the manifest damaged), import either refuses the whole bundle and the
store is untouched, or stores exactly the documents whose files are intact, each with the
heads the exporter listed, refuses the rest by id, and a second import changes nothing.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from pathlib import Path

import cbor2
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from store import Store, new_key
from sync.bundle import MANIFEST, BundleError, export_bundle, import_bundle

ACTIONS = ("truncate", "flip", "delete", "append")
mutation = st.tuples(st.integers(min_value=0, max_value=10_000),  # which file
                     st.sampled_from(ACTIONS),
                     st.integers(min_value=0, max_value=1 << 30),  # where
                     st.integers(min_value=1, max_value=255))  # xor / garbage byte
mutations = st.lists(mutation, min_size=1, max_size=3)


async def test_import_of_damaged_bundles(kc, make_node, bx, tmp_path: Path) -> None:
    a = await make_node("a1")
    await bx.fill(a, 6)
    original = tmp_path / "original"
    await export_bundle(a.store, bx.node_signer(a), original)
    body = cbor2.loads(cbor2.loads((original / MANIFEST).read_bytes())["payload"])
    listed = {e["id"]: (e["file"], bytes(e["heads"])) for e in body["docs"]}
    files = sorted(p.relative_to(original).as_posix() for p in original.rglob("*")
                   if p.is_file())
    signer = kc.signer
    loop = asyncio.get_running_loop()

    async def one(muts: list[tuple[int, str, int, int]]) -> None:
        with tempfile.TemporaryDirectory(dir=tmp_path) as tmp:
            stick = Path(tmp) / "stick"
            shutil.copytree(original, stick)
            damaged: set[str] = set()
            for which, action, where, byte in muts:
                name = files[which % len(files)]
                f = stick / name
                if not f.exists():
                    continue
                data = f.read_bytes()
                if action == "truncate":
                    new = data[:where % max(len(data), 1)]
                elif action == "flip":
                    i = where % max(len(data), 1)
                    new = data[:i] + bytes([data[i] ^ byte]) + data[i + 1:] if data else data
                elif action == "append":
                    new = data + bytes([byte])
                else:
                    f.unlink()
                    damaged.add(name)
                    continue
                if new != data:
                    f.write_bytes(new)
                    damaged.add(name)
            store = await Store.open(Path(tmp) / "store.db", key=new_key())
            try:
                try:
                    r = await import_bundle(store, signer.identity, signer.ca, stick,
        decrypt_key=signer.box)
                except BundleError:
                    assert MANIFEST in damaged
                    (count,), = await store.query("SELECT count(*) FROM docs")
                    assert count == 0 and await store.current_seq() == 0
                    assert await store.query("SELECT * FROM peers") == []
                    return
                held = await bx.doc_heads(store)
                bad = {doc_id for doc_id, (file, _) in listed.items() if file in damaged}
                assert {x.doc_id for x in r.refused} == bad
                assert set(held) == set(listed) - bad
                for doc_id, heads in held.items():
                    assert heads == listed[doc_id][1]
                assert r.checkpoint_advanced == (not bad)
                state = await bx.store_state(store)
                again = await import_bundle(store, signer.identity, signer.ca, stick,
        decrypt_key=signer.box)
                assert again.changed == 0 and not again.checkpoint_advanced
                assert await bx.store_state(store) == state
            finally:
                await store.close()

    @settings(max_examples=40, deadline=None, derandomize=True,
              suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(mutations)
    def check(muts: list[tuple[int, str, int, int]]) -> None:
        asyncio.run_coroutine_threadsafe(one(muts), loop).result()

    await asyncio.to_thread(check)
