"""USB bundles: the sync feed on a stick, for villages with no network (issue #8).

A bundle is a directory (docs/bundles.md has the format)::

    manifest.cbor           signed; written last, so a stick without it is incomplete
    docs/<sha256>.bin       one whole saved Automerge document per file

The exporter writes what a network session would send to the destination (its feed since
the destination's acknowledged checkpoint, in ``offer_set(me, destination)``), whole saved
documents, then the manifest: every document (id, kind, scope, heads, SHA-256, length),
the feed range ``since``..``upto``, and a receipt (how far the exporter holds the
destination's feed), signed with the exporter's node key, its certificate alongside.

The importer verifies the signature, the certificate's chain to its pinned county CA and
the revocation list it holds; then, per document, the file's length and SHA-256 and
authorization by scope with exactly the rules of network sync (``accept_set`` and
``permissions(exporter).may_write``). Refused documents store nothing; the rest merge in
one transaction. The checkpoint of the exporter's feed advances (``upto``) only when
nothing was refused and the bundle continues from what we hold; the receipt advances our
``sent_seq`` for the exporter's store, so the next export starts after what it holds.
Importing the same bundle again changes nothing and says so.

The event loop never waits on the stick: every file read and write runs in a worker
thread (``asyncio.to_thread``), awaited one step at a time, so the order on the stick is
the order above -- the old manifest removed first, documents and media written, the
signed manifest written (and fsynced) last.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import os
import re
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import cbor2
from automerge.core import Document
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ed25519
from cryptography.hazmat.primitives.serialization import Encoding

from store import DocumentStore, Incoming, StoreError
from store.amdoc import read as amdoc_read
from store.blobs import BlobStore
from store.files import private_dir, write_private
from store.records import CONTENT, KINDS, REVOCATION, check_scope

from . import revocations, sealbox
from .auth import EMPTY_REVOCATIONS, cert_identity_county, open_revocations, peer_identity
from .errors import NotAuthorized, SyncError
from .scopes import Identity, accept_set, offer_set, permissions

FORMAT = "villagecourt-bundle"
VERSION = 1
MANIFEST = "manifest.cbor"
DOCS_DIR = "docs"
MEDIA_DIR = "media"
PART_BYTES = 1024 * 1024 * 1024  # media split in 1 GiB parts: far below FAT32's 4 GiB
MAX_MANIFEST = 64 * 1024 * 1024  # a manifest of 100,000 documents is ~20 MB
MAX_DOC = 64 * 1024 * 1024
FEED_PAGE = 500
COPY_CHUNK = 1024 * 1024  # media is copied in reads of this size, never a part at once

# Only files we name are ever deleted from a stick (never a director's own files).
_OURS = re.compile(r"^[0-9a-f]{64}\.(bin|\d{3})(\.part)?$")

Progress = Callable[[str, int, int], None]  # (phase, done, total)


class BundleError(SyncError):
    """The bundle as a whole is refused (bad signature, foreign county, incomplete...)."""

    code = "bundle_refused"


@dataclass(frozen=True)
class Signer:
    """Who exports: the store's identity, its node key and certificate, the county CA."""

    identity: Identity
    key: ed25519.Ed25519PrivateKey
    cert: x509.Certificate
    ca: x509.Certificate
    box_key: ed25519.Ed25519PrivateKey | None = None  # opens what is encrypted to us

    @property
    def box(self) -> ed25519.Ed25519PrivateKey:
        """The key whose X25519 twin decrypts bundles for us: the node's own key; at the
        relay, the county CA's (villages encrypt to the CA certificate they pin)."""
        return self.box_key or self.key


@dataclass
class ExportResult:
    path: Path
    docs: int
    bytes: int
    since: int
    upto: int
    dest_store: str
    dest_node: str = ""  # at the relay: the node id of the village's node it is for


@dataclass
class Refusal:
    doc_id: str
    code: str  # not_authorized | tampered | missing | bad_document | regresses
    message: str


@dataclass
class ImportResult:
    exporter: str  # the exporter's identity label
    exporter_store: str
    docs: int  # documents in the bundle
    changed: int  # documents that changed our store
    refused: list[Refusal] = field(default_factory=list)
    checkpoint_advanced: bool = False
    receipt_applied: bool = False
    blocks: int = 0  # media blocks taken
    media_incomplete: list[str] = field(default_factory=list)

    @property
    def nothing_new(self) -> bool:
        return (not self.changed and not self.checkpoint_advanced and not self.receipt_applied
                and not self.refused and not self.blocks)


@dataclass
class DocEntryInfo:
    doc_id: str
    kind: str
    scope: str
    heads: bytes
    sha256: str
    length: int
    file: str
    enc: bool = False
    present: bool = False
    intact: bool = False


@dataclass
class Inspection:
    complete: bool  # a manifest exists and every file it lists is there and intact
    exporter: str = ""
    exporter_store: str = ""
    destination: str = ""
    created_at: str = ""
    signature: str = "unchecked"  # ok | unchecked | the reason it fails
    since: int = 0
    upto: int = 0
    docs: list[DocEntryInfo] = field(default_factory=list)
    blobs: list[dict[str, Any]] = field(default_factory=list)
    problem: str = ""

    @property
    def missing(self) -> list[str]:
        return [d.doc_id for d in self.docs if not d.present]

    @property
    def damaged(self) -> list[str]:
        return [d.doc_id for d in self.docs if d.present and not d.intact]


# --- writing -----------------------------------------------------------------------------
def _write_file(path: Path, data: bytes) -> None:
    """Write then rename, so a file under its final name is always whole."""
    tmp = path.with_name(path.name + ".part")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _start_export(out: Path, docs_dir: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / MANIFEST).unlink(missing_ok=True)  # from here the stick is visibly incomplete
    docs_dir.mkdir(exist_ok=True)


def _write_docs(docs_dir: Path, metas: list[Any], saved: dict[str, bytes],
                file_key: bytes) -> list[tuple[str, dict[str, Any]]]:
    """One page of documents onto the stick (sealed when they are village records), each
    under its SHA-256; a file already there whole is kept. Runs in a worker thread."""
    out = []
    for m in metas:
        data = saved[m.doc_id]
        enc = m.scope.startswith("village:")
        if enc:
            data = sealbox.seal(file_key, m.doc_id, data)
        sha = _sha(data)
        name = f"{sha}.bin"
        target = docs_dir / name
        if not (target.exists() and target.stat().st_size == len(data)
                and _sha(target.read_bytes()) == sha):
            _write_file(target, data)
        out.append((name, {"id": m.doc_id, "kind": m.kind, "scope": m.scope,
                           "heads": bytes(m.heads), "sha256": sha, "length": len(data),
                           "file": f"{DOCS_DIR}/{name}", "enc": enc}))
    return out


def _remove_stale(folder: Path, keep: set[str]) -> None:
    """Delete the files of ours in ``folder`` that this export did not write."""
    if not folder.exists():
        return
    for stale in folder.iterdir():
        if stale.name not in keep and _OURS.fullmatch(stale.name):
            stale.unlink()


def _copy_parts(src: Path, sha: str, length: int, media_dir: Path) -> list[dict[str, Any]]:
    """Copy a complete blob into ``media_dir`` as parts of PART_BYTES (a part already there
    with its length is kept), streaming in 1 MiB reads. Runs in a worker thread."""
    media_dir.mkdir(exist_ok=True)
    parts = []
    with open(src, "rb") as f:
        for i, offset in enumerate(range(0, max(length, 1), PART_BYTES)):
            name = f"{sha}.{i:03d}"
            size = max(0, min(PART_BYTES, length - offset))
            target = media_dir / name
            if not (target.exists() and target.stat().st_size == size):
                tmp = target.with_name(target.name + ".part")
                f.seek(offset)
                with open(tmp, "wb") as w:
                    left = size
                    while left > 0:
                        chunk = f.read(min(left, COPY_CHUNK))
                        if not chunk:
                            raise OSError(f"{src} is shorter than {length} bytes")
                        w.write(chunk)
                        left -= len(chunk)
                    w.flush()
                    os.fsync(w.fileno())
                os.replace(tmp, target)
            parts.append({"file": f"{MEDIA_DIR}/{name}", "offset": offset, "length": size})
    return parts


def _read_at(path: Path, offset: int, length: int) -> bytes:
    """``length`` bytes of ``path`` from ``offset`` (fewer at its end)."""
    with open(path, "rb") as fh:
        fh.seek(offset)
        return fh.read(length)


def destination_identity(me: Identity, village: str | None = None) -> Identity:
    """Who a bundle is for: a node's is its county relay; the relay's, a village."""
    if me.role == "relay":
        if not village:
            raise BundleError("on the relay, say which village the bundle is for (--village)",
                              code="bundle_no_village")
        return Identity("*", "director", me.county, village)
    return Identity("*", "relay", me.county)


async def village_nodes(store: DocumentStore, county: str,
                        village: str) -> list[tuple[str, str]]:
    """The village's nodes we have met (by sync or by bundle), the one met last first:
    (node id, store id)."""
    peers = await store.peers(label_prefix=f"director:{county}/{village}:")
    return [(str(p["label"]).rsplit(":", 1)[1], str(p["peer_id"])) for p in peers]


async def destination_store(store: DocumentStore, me: Identity, dest: Identity,
                            node: str | None = None) -> str:
    """The store id of the destination, if we have met it (by sync or by bundle); for a
    village, of its ``node`` if given (BundleError ``bundle_unknown_node`` naming the
    nodes we know when we never met it), else of the node met last."""
    if dest.role == "relay":
        last = await store.last_peer(label="relay")
        return str(last["peer_id"]) if last else ""
    nodes = await village_nodes(store, dest.county, dest.village)
    if node is None:
        return nodes[0][1] if nodes else ""
    for node_id, peer in nodes:
        if node_id == node:
            return peer
    known = [node_id for node_id, _ in nodes]
    raise BundleError(f"village {dest.village} has no node {node} that we met; known: "
                      f"{', '.join(known) or 'none'}", code="bundle_unknown_node",
                      node=node, village=dest.village, known=known)


async def export_bundle(store: DocumentStore, signer: Signer, out: Path, *,
                        village: str | None = None, node: str | None = None,
                        blobs: BlobStore | None = None,
                        progress: Progress | None = None) -> ExportResult:
    """Write a bundle for our relay (on a node) or for ``village`` (on the relay): for
    the village's ``node`` (its node id) if given, else for the node of it met last."""
    me = signer.identity
    dest = destination_identity(me, village)
    if node is not None and dest.role == "relay":
        raise BundleError("--node chooses a village's node: only the relay exports for one",
                          code="bundle_node_not_relay")
    dest_store = await destination_store(store, me, dest, node)
    dest_node = "" if dest.role == "relay" or not dest_store else next(
        (n for n, peer in await village_nodes(store, dest.county, dest.village)
         if peer == dest_store), "")
    offer = offer_set(me, dest)
    peer = await store.peer(dest_store) if dest_store else {"sent_seq": 0, "received_seq": 0,
                                                             "scope_fp": ""}
    since = int(str(peer["sent_seq"] or 0))
    docs_dir = out / DOCS_DIR
    await asyncio.to_thread(_start_export, out, docs_dir)
    metas = []
    cursor, upto = since, since
    while True:
        page = await store.changes_since(cursor, readable=offer, limit=FEED_PAGE,
                                         exclude_from=dest_store or None)
        metas += page.entries
        cursor = upto = page.upto
        if not page.more:
            break
    entries: list[dict[str, Any]] = []
    keep: set[str] = set()
    total_bytes = 0
    file_key, key_box = b"", None
    if any(m.scope.startswith("village:") for m in metas):
        # Village records hold names, ID numbers, phones: encrypted to the recipient.
        recipient = await asyncio.to_thread(_recipient_key, store, signer, dest, dest_store)
        file_key = os.urandom(32)
        key_box = sealbox.wrap_key(file_key, recipient)
    for i in range(0, len(metas), FEED_PAGE):
        part = metas[i:i + FEED_PAGE]
        saved = await store.saved_many([m.doc_id for m in part])
        written = await asyncio.to_thread(_write_docs, docs_dir, part, saved, file_key)
        for name, entry in written:
            keep.add(name)
            total_bytes += int(entry["length"])
            entries.append(entry)
        if progress:
            progress("export", min(i + FEED_PAGE, len(metas)), len(metas))
    await asyncio.to_thread(_remove_stale, docs_dir, keep)  # left by an earlier export
    blob_entries = await _export_media(store, blobs, out, [m.doc_id for m in metas
                                                           if m.kind == CONTENT], progress)
    total_bytes += sum(int(b["length"]) for b in blob_entries)
    receipt = None
    if dest_store:
        receipt = {"store": store.store_id, "of_store": dest_store,
                   "have_seq": int(str(peer["received_seq"] or 0))}
    payload = cbor2.dumps({
        "format": FORMAT, "version": VERSION, "bundle_id": secrets.token_hex(16),
        "created_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "from": {"store": store.store_id, "identity": me.label},
        "to": {"role": dest.role, "county": dest.county, "village": dest.village,
               "store": dest_store},
        "since": since, "upto": upto, "docs": entries, "blobs": blob_entries,
        "receipt": receipt, "key": key_box,
    })
    manifest = cbor2.dumps({"payload": payload, "signature": signer.key.sign(payload),
                            "chain": [signer.cert.public_bytes(Encoding.DER)]})
    # Last, after every document and media part is on the stick (each step awaited).
    await asyncio.to_thread(_write_file, out / MANIFEST, manifest)
    return ExportResult(out, len(entries), total_bytes + len(manifest), since, upto, dest_store,
                        dest_node)


def _peer_certs_dir(store: DocumentStore) -> Path:
    return store.path.parent / "bundle-peers"


def remember_cert(store: DocumentStore, peer_store: str, der: bytes) -> None:
    """Keep the certificate of a village node we met (its bundle imported, or a network
    session with it at the relay): the relay encrypts the bundles it writes for that
    village to it."""
    if not all(c in "0123456789abcdef" for c in peer_store) or not peer_store:
        return
    d = private_dir(_peer_certs_dir(store))  # in the node's or relay's home: 0700, 0600
    f = d / f"{peer_store}.der"
    if not (f.exists() and f.read_bytes() == der):
        write_private(f, der)


async def remember_cert_async(store: DocumentStore, peer_store: str, der: bytes) -> None:
    """``remember_cert`` in a worker thread (it writes a file)."""
    await asyncio.to_thread(remember_cert, store, peer_store, der)


def _recipient_key(store: DocumentStore, signer: Signer, dest: Identity,
                   dest_store: str) -> ed25519.Ed25519PublicKey:
    if dest.role == "relay":
        key = signer.ca.public_key()
    else:
        f = _peer_certs_dir(store) / f"{dest_store}.der" if dest_store else None
        if f is None or not f.is_file():
            raise BundleError(
                f"no key to encrypt village {dest.village}'s records to: the village must sync "
                "with the relay once, or send a bundle first (its certificate comes with it)",
                code="bundle_no_key")
        key = x509.load_der_x509_certificate(f.read_bytes()).public_key()
    if not isinstance(key, ed25519.Ed25519PublicKey):
        raise BundleError("the recipient's key is not Ed25519", code="bundle_no_key")
    return key


async def _export_media(store: DocumentStore, blobs: BlobStore | None, out: Path,
                        content_ids: list[str],
                        progress: Progress | None) -> list[dict[str, Any]]:
    """Copy the complete blobs the exported content items name into media/, in parts."""
    media_dir = out / MEDIA_DIR
    keep: set[str] = set()
    entries: list[dict[str, Any]] = []
    if blobs is not None:
        seen: set[str] = set()
        for doc_id in content_ids:
            for m in (await store.read(doc_id)).get("media") or []:
                sha = m.get("sha256") if isinstance(m, dict) else None
                if not isinstance(sha, str) or sha in seen:
                    continue
                seen.add(sha)
                src = await blobs.path(sha)
                info = await blobs.info(sha)
                if src is None or info is None:
                    continue  # not complete here: the network brings it later
                parts = await asyncio.to_thread(_copy_parts, src, sha, info.length, media_dir)
                keep.update(p["file"][len(MEDIA_DIR) + 1:] for p in parts)
                entries.append({"sha256": sha, "length": info.length,
                                "block_size": info.block_size, "blocks": info.blocks,
                                "parts": parts})
                if progress:
                    progress("media", len(entries), len(entries))
    await asyncio.to_thread(_remove_stale, media_dir, keep)
    return entries


async def _import_media(store: DocumentStore, blobs: BlobStore, path: Path, entries: list[Any],
                        result: "ImportResult",
                        progress: Progress | None) -> None:
    """Take blobs that a content item we accepted (or hold) names, block by block, each
    verified against the item's block hashes; a bad block is skipped (fetched later)."""
    named: dict[str, dict[str, Any]] = {}
    for doc_id, _scope in await store.views.content():
        for m in (await store.read(doc_id)).get("media") or []:
            if isinstance(m, dict) and isinstance(m.get("sha256"), str):
                named.setdefault(m["sha256"], m)
    for i, raw in enumerate(entries, start=1):
        sha = str(raw.get("sha256", "")) if isinstance(raw, dict) else ""
        ref = named.get(sha)
        if ref is None or not isinstance(ref.get("blocks"), bytes):
            result.refused.append(Refusal(sha[:16] or "?", "not_authorized",
                                          "media that no content item we may read names"))
            continue
        info = await blobs.want(sha, int(ref["length"]), bytes(ref["blocks"]),
                                int(ref.get("block_size") or 0) or 128 * 1024)
        if info.complete:
            continue
        missing = set(await blobs.missing(sha))
        bs = info.block_size
        for part in raw.get("parts") or []:
            try:
                name = str(part["file"])
                offset = int(part["offset"])
                leaf = name[len(MEDIA_DIR) + 1:]
                if (not name.startswith(MEDIA_DIR + "/") or not leaf or "/" in leaf
                        or "\\" in leaf or leaf.startswith(".") or offset % bs or offset < 0):
                    raise ValueError("bad part")
                f = path / name
                n0 = offset // bs
                for n in range(n0, min(info.count, n0 + -(-int(part["length"]) // bs))):
                    if n not in missing:
                        continue
                    # One block (128 KiB) per read, in a worker thread.
                    data = await asyncio.to_thread(_read_at, f, (n - n0) * bs,
                                                   info.block_len(n))
                    if await blobs.put_block(sha, n, data):
                        result.blocks += 1
            except (KeyError, ValueError, TypeError, OSError):
                continue
        done = await blobs.info(sha)
        if done is not None and not done.complete:
            result.media_incomplete.append(sha)
        if progress:
            progress("media", i, len(entries))


# --- reading -----------------------------------------------------------------------------
@dataclass
class _Manifest:
    body: dict[str, Any]
    chain: list[bytes]
    payload: bytes
    signature: bytes


def _read_manifest(path: Path) -> _Manifest:
    f = path / MANIFEST
    if not f.is_file():
        raise BundleError(f"{path} holds no manifest: the bundle is incomplete (export was "
                          "interrupted) or this is not a bundle", code="bundle_incomplete")
    if f.stat().st_size > MAX_MANIFEST:
        raise BundleError("the manifest is too large to be a bundle's", code="bundle_malformed")
    try:
        outer = cbor2.loads(f.read_bytes())
        payload, signature = bytes(outer["payload"]), bytes(outer["signature"])
        chain = [bytes(c) for c in outer["chain"]]
        body = cbor2.loads(payload)
        if not isinstance(body, dict) or body.get("format") != FORMAT:
            raise ValueError("not a villagecourt bundle")
        if body.get("version") != VERSION:
            raise ValueError(f"bundle format version {body.get('version')!r}, we read "
                             f"{VERSION}")
        for key in ("from", "to", "docs", "since", "upto"):
            if key not in body:
                raise ValueError(f"manifest has no {key!r}")
        if not isinstance(body["docs"], list) or not chain:
            raise ValueError("manifest lists no documents or no certificate")
        # The signature says who wrote it, not that it is well made (a hostile node can
        # sign anything): the fields read below must have their types.
        if not isinstance(body["from"], dict) or not isinstance(body["to"], dict):
            raise ValueError("manifest's 'from' and 'to' must be maps")
        for key in ("since", "upto"):
            if not isinstance(body[key], int) or isinstance(body[key], bool) or body[key] < 0:
                raise ValueError(f"manifest's {key!r} must be a count")
        receipt = body.get("receipt")
        if receipt is not None and not (isinstance(receipt, dict) and isinstance(
                receipt.get("have_seq", 0), int) and not isinstance(receipt.get("have_seq"), bool)):
            raise ValueError("manifest's receipt is malformed")
    except Exception as exc:  # noqa: BLE001 — a manifest of any shape: malformed
        raise BundleError(f"the manifest is damaged or not a bundle's: {exc}",
                          code="bundle_malformed") from None
    return _Manifest(body, chain, payload, signature)


def _entry(raw: Any) -> DocEntryInfo:
    if not isinstance(raw, dict):
        raise ValueError("a document entry is not a map")
    e = DocEntryInfo(str(raw["id"]), str(raw["kind"]), str(raw["scope"]), bytes(raw["heads"]),
                     str(raw["sha256"]), int(raw["length"]), str(raw["file"]),
                     enc=bool(raw.get("enc", False)))
    leaf = e.file[len(DOCS_DIR) + 1:]
    if (not e.file.startswith(DOCS_DIR + "/") or not leaf or "/" in leaf or "\\" in leaf
            or leaf.startswith(".") or not 0 <= e.length <= MAX_DOC):
        raise ValueError(f"bad file name {e.file!r}")
    return e


def _read_doc(path: Path, e: DocEntryInfo) -> bytes | None:
    """The file's bytes if present with the listed length and hash; None if missing.
    Raises ValueError if present but different (tampered or damaged)."""
    f = path / e.file
    if not f.is_file():
        return None
    if f.stat().st_size != e.length:
        raise ValueError(f"length {f.stat().st_size}, manifest says {e.length}")
    data = f.read_bytes()
    if _sha(data) != e.sha256:
        raise ValueError("SHA-256 does not match the manifest")
    return data


def _read_docs(path: Path, entries: list[DocEntryInfo]
               ) -> dict[str, bytes | None | ValueError | OSError]:
    """``_read_doc`` of each entry (worker thread): its bytes, None if missing, or why the
    file is refused (tampered or unreadable)."""
    out: dict[str, bytes | None | ValueError | OSError] = {}
    for e in entries:
        try:
            out[e.doc_id] = _read_doc(path, e)
        except (ValueError, OSError) as exc:
            out[e.doc_id] = exc
    return out


def verify_manifest(m: _Manifest, ca: x509.Certificate, revoked: Any) -> Identity:
    """The exporter's identity: certificate chain to our CA, not revoked, signature."""
    try:
        identity, cert = peer_identity(m.chain[0], ca, revocations=revoked)
    except NotAuthorized as exc:
        raise BundleError(f"the bundle's signer is refused: {exc}", code=exc.code) from None
    key = cert.public_key()
    try:
        if not isinstance(key, ed25519.Ed25519PublicKey):
            raise InvalidSignature
        key.verify(m.signature, m.payload)
    except InvalidSignature:
        raise BundleError("the manifest's signature does not verify: the bundle was altered",
                          code="bad_signature") from None
    if m.body["from"].get("identity") != identity.label:
        raise BundleError("the manifest names another exporter than its certificate",
                          code="bad_signature")
    return identity


async def inspect_bundle(path: Path, *, ca: x509.Certificate | None = None,
                         store: DocumentStore | None = None,
                         progress: Progress | None = None) -> Inspection:
    """What is on the stick, what is complete, what is missing (never writes)."""
    try:
        m = await asyncio.to_thread(_read_manifest, path)
    except BundleError as exc:
        return Inspection(complete=False, problem=str(exc))
    b = m.body
    to = b.get("to") or {}
    out = Inspection(complete=True, exporter=str(b["from"].get("identity", "")),
                     exporter_store=str(b["from"].get("store", "")),
                     destination=f"{to.get('role', '')}:{to.get('county', '')}"
                                 + (f"/{to['village']}" if to.get("village") else ""),
                     created_at=str(b.get("created_at", "")), since=int(b["since"]),
                     upto=int(b["upto"]), blobs=list(b.get("blobs") or []))
    if ca is not None:
        revoked = EMPTY_REVOCATIONS if store is None else await revocations.current(
            store, ca, cert_identity_county(ca))
        try:
            verify_manifest(m, ca, revoked)
            out.signature = "ok"
        except BundleError as exc:
            out.signature = str(exc)
            out.complete = False
    docs = b["docs"]
    for start in range(0, len(docs), FEED_PAGE):
        chunk = docs[start:start + FEED_PAGE]
        problem, checked = await asyncio.to_thread(_check_docs, path, chunk)
        if problem:
            out.complete = False
            out.problem = problem
        for e in checked:
            out.complete = out.complete and e.intact
            out.docs.append(e)
        if progress:
            progress("inspect", start + len(chunk), len(docs))
    return out


def _check_docs(path: Path, raws: list[Any]) -> tuple[str, list[DocEntryInfo]]:
    """Entries of a manifest checked against their files (worker thread): the last
    malformed entry's problem, and each well-formed entry marked present and intact."""
    problem = ""
    out = []
    for raw in raws:
        try:
            e = _entry(raw)
        except (KeyError, ValueError, TypeError) as exc:
            problem = f"a document entry is malformed: {exc}"
            continue
        try:
            e.present = _read_doc(path, e) is not None
            e.intact = e.present
        except (ValueError, OSError):
            e.present, e.intact = True, False
        out.append(e)
    return problem, out


# --- importing ---------------------------------------------------------------------------
async def import_bundle(store: DocumentStore, me: Identity, ca: x509.Certificate, path: Path, *,
                        blobs: BlobStore | None = None,
                        decrypt_key: ed25519.Ed25519PrivateKey | None = None,
                        progress: Progress | None = None) -> ImportResult:
    """Verify and merge a bundle; see the module docstring for the rules."""
    m = _read_manifest(path)
    revoked = await revocations.current(store, ca, me.county)
    exporter = verify_manifest(m, ca, revoked)
    b = m.body
    from_store = str(b["from"].get("store", ""))
    to = b["to"] or {}
    if not from_store or from_store == store.store_id:
        raise BundleError("this bundle was exported by this very store", code="bundle_own")
    if to.get("county") != me.county:
        raise BundleError(f"this bundle is for county {to.get('county')}, not {me.county}",
                          code="wrong_county")
    if me.role == "relay" and to.get("role") != "relay":
        raise BundleError("this bundle is for a village, not for the relay",
                          code="bundle_not_for_us")
    if me.role != "relay" and (to.get("role") != "director"
                               or to.get("village") != me.village):
        raise BundleError(f"this bundle is for {_destination_text(to)}, not for village "
                          f"{me.village}", code="bundle_not_for_us")
    accept = accept_set(me, exporter)
    perms = permissions(exporter)
    result = ImportResult(exporter.label, from_store, len(b["docs"]), 0)
    await remember_cert_async(store, from_store, m.chain[0])
    # First the checks that need no file, in the manifest's order...
    wanted: list[DocEntryInfo | Refusal] = []
    seen: set[str] = set()
    for raw in b["docs"]:
        try:
            e = _entry(raw)
        except (KeyError, ValueError, TypeError) as exc:
            wanted.append(Refusal("?", "bad_document", f"malformed entry: {exc}"))
            continue
        if e.doc_id in seen:
            wanted.append(Refusal(e.doc_id, "bad_document", "listed twice"))
            continue
        seen.add(e.doc_id)
        try:
            if e.kind not in KINDS:
                raise ValueError(f"unknown kind {e.kind!r}")
            check_scope(e.scope)
        except (ValueError, StoreError) as exc:
            wanted.append(Refusal(e.doc_id, "bad_document", str(exc)))
            continue
        if e.scope not in accept or not perms.may_write(e.scope, e.kind):
            wanted.append(Refusal(
                e.doc_id, "not_authorized",
                f"{exporter.label} may not write a {e.kind} into {e.scope}"))
            continue
        wanted.append(e)
    # ...then, a page of entries at a time, their files (read in a worker thread).
    incoming: list[Incoming] = []
    file_key: bytes | None = None
    for start in range(0, len(wanted), FEED_PAGE):
        chunk = wanted[start:start + FEED_PAGE]
        files = await asyncio.to_thread(
            _read_docs, path, [e for e in chunk if isinstance(e, DocEntryInfo)])
        for item in chunk:
            if isinstance(item, Refusal):
                result.refused.append(item)
                continue
            e = item
            data = files[e.doc_id]
            if isinstance(data, Exception):
                result.refused.append(Refusal(e.doc_id, "tampered", f"file {e.file}: {data}"))
                continue
            if data is None:
                result.refused.append(Refusal(e.doc_id, "missing",
                                              f"file {e.file} is missing"))
                continue
            if e.enc:
                try:
                    if file_key is None:
                        if decrypt_key is None or not isinstance(b.get("key"), dict):
                            raise sealbox.SealError("the bundle's personal data is encrypted "
                                                    "and we have no key to open it")
                        file_key = sealbox.unwrap_key(b["key"], decrypt_key)
                    data = sealbox.open_sealed(file_key, e.doc_id, data)
                except sealbox.SealError as exc:
                    result.refused.append(Refusal(e.doc_id, "cannot_decrypt", str(exc)))
                    continue
            elif e.scope.startswith("village:"):
                result.refused.append(Refusal(e.doc_id, "not_encrypted",
                                              "village records must travel encrypted"))
                continue
            problem = await _regresses(store, ca, e, data)
            if problem:
                result.refused.append(Refusal(e.doc_id, "regresses", problem))
                continue
            incoming.append(Incoming(e.doc_id, e.kind, e.scope, data))  # heads: from data
    # Merge: one transaction for all; if one document is bad, isolate it and merge the rest.
    held = int((await store.peer(from_store))["received_seq"] or 0)
    since, upto = int(b["since"]), int(b["upto"])
    # Like a sync page (docs/protocol.md): the checkpoint moves only if the bundle
    # continues from what we hold, and only past what was all stored.
    advance = not result.refused and since <= held < upto
    checkpoint = (from_store, upto, accept.fingerprint()) if advance else None
    total = len(incoming)
    try:
        changed = await store.merge(incoming, origin=from_store, checkpoint=checkpoint)
        result.changed = len(changed)
        result.checkpoint_advanced = checkpoint is not None
    except StoreError:
        for i, inc in enumerate(incoming, start=1):
            try:
                result.changed += len(await store.merge([inc], origin=from_store))
            except StoreError as exc:
                result.refused.append(Refusal(inc.doc_id, "bad_document", str(exc)))
            if progress:
                progress("import", i, total)
    if progress:
        progress("import", total, total)
    if blobs is not None and b.get("blobs"):
        media = b["blobs"] if isinstance(b["blobs"], list) else []
        await _import_media(store, blobs, path, media, result, progress)
    receipt = b.get("receipt")
    if isinstance(receipt, dict) and receipt.get("of_store") == store.store_id \
            and receipt.get("store") == from_store:
        have = int(receipt.get("have_seq") or 0)
        peer = await store.peer(from_store)
        label = "relay" if exporter.role == "relay" else exporter.label
        if have > int(peer["sent_seq"] or 0) or peer["label"] != label:
            await store.record_peer(from_store, sent_seq=min(have, await store.current_seq()),
                                    label=label)
            result.receipt_applied = have > int(peer["sent_seq"] or 0)
    elif not (await store.peer(from_store))["label"]:
        label = "relay" if exporter.role == "relay" else exporter.label
        await store.record_peer(from_store, label=label)
    return result


def _destination_text(to: dict[str, Any]) -> str:
    """Who a manifest's ``to`` names, in words: the county relay, or village X."""
    if to.get("role") == "relay":
        return f"the county relay of {to.get('county')}"
    return f"village {to.get('village')}" if to.get("village") else "no destination"


async def _regresses(store: DocumentStore, ca: x509.Certificate, e: DocEntryInfo,
                     data: bytes) -> str:
    """Versioned non-CRDT data never goes backwards: the revocation list's version and a
    content item's withdrawal, compared between what we hold and the merge result."""
    if e.kind not in (REVOCATION, CONTENT):
        return ""
    try:
        theirs = Document.load(data)
    except Exception:  # noqa: BLE001 — Automerge raises its own types for bad bytes; the merge refuses them
        return ""  # the merge refuses it with a clear reason
    try:
        ours = await store.load(e.doc_id)
    except StoreError:
        ours = None
    merged = theirs if ours is None else ours.fork()
    if ours is not None:
        merged.merge(theirs)
    after = amdoc_read(merged)
    if e.kind == REVOCATION:
        signed = after.get("signed")
        if not isinstance(signed, bytes):
            return "the revocation list holds no signed list"
        try:
            new = open_revocations(signed, ca).version
        except NotAuthorized as exc:
            return str(exc)
        if ours is not None:
            before = amdoc_read(ours).get("signed")
            if isinstance(before, bytes):
                try:
                    if open_revocations(before, ca).version > new:
                        return "this revocation list is older than the one we hold"
                except NotAuthorized:
                    pass
        return ""
    if ours is not None and amdoc_read(ours).get("withdrawn") and not after.get("withdrawn"):
        return "this would bring back a withdrawn content item"
    return ""
