"""``villagecourt bundle export|import|inspect DIR``: USB bundles on a node (issue #8).

On a village node a bundle goes to (or comes from) the county relay. On the relay the same
commands run with ``--relay`` (or ``--relay-home``; export needs ``--village CODE``); the
relay side is wired in by the composition root (node/cli.py) because node never imports
relay. The format and the rules are in sync/bundle.py and docs/bundles.md.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Awaitable, Callable

from .config import ConfigError, Home
from .node import Node

if TYPE_CHECKING:  # imported when a bundle command runs: the parser is built for every command
    from store import Store
    from store.blobs import BlobStore
    from sync.bundle import ExportResult, ImportResult, Inspection, Signer

# Runs an action at the relay (store, signer, blob store); given by the composition root.
RelayRunner = Callable[[argparse.Namespace,
                        Callable[["Store", "Signer", "BlobStore"], Awaitable[int]]], int]


def node_signer(node: Node) -> "Signer":
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519

    from sync.bundle import Signer

    from .identity import keys_of

    keys = keys_of(node.home)
    if not keys.provisioned():
        raise ConfigError("not_provisioned",
                          "this node has no certificate yet: provision it first "
                          "(villagecourt provision)")
    key = serialization.load_pem_private_key(keys.key_file.read_bytes(), password=None)
    assert isinstance(key, ed25519.Ed25519PrivateKey)
    return Signer(keys.identity(), key, keys.cert(), keys.ca())


def _progress(quiet: bool, lang: str = "zh") -> Callable[[str, int, int], None]:
    """Progress on stderr, in the command's language, when stderr is a terminal; nothing
    for an empty phase (no stray "import: 0/0")."""
    def show(phase: str, done: int, total: int) -> None:
        if quiet or not total or not sys.stderr.isatty():
            return
        label = (_M.get(lang) or _M["zh"]).get(f"phase_{phase}", phase)
        print(f"\r{label}: {done}/{total}", end="" if done < total else "\n",
              file=sys.stderr, flush=True)
    return show


# Messages of these commands (zh for directors by default, en), kept here so the shared
# node/i18n.py table stays the node's own; codes are sync/bundle.py's.
_M: dict[str, dict[str, str]] = {
    "zh": {
        "export_empty": "已写入 {path}：自上次回执以来没有新记录"
                        "（{bytes} 字节：清单及给对方的回执）",
        "export": "已写入 {path}：{docs} 条记录，{bytes} 字节。"
                  "对方导入并送回回执后，才算交接完成。",
        "never_met": "（尚未与对方同步过：包含全部记录）",
        "nothing_new": "没有新内容：来自 {who} 的数据包里的 {docs} 条记录本机都已经有了",
        "phase_export": "导出",
        "phase_import": "导入",
        "phase_media": "媒体",
        "phase_inspect": "检查",
        "imported": "已导入（来自 {who}）：{docs} 条记录，{changed} 条有更新，{refused} 条被拒绝",
        "blocks": "，视频/音频 {blocks} 块",
        "receipt": "；对方回执已记录",
        "media_incomplete": "  媒体文件 {sha} 不完整：其余部分将通过网络下载",
        "refused": "  已拒绝 {id}：{why}",
        "refused_total": "{n} 项被拒绝且未保存，其余已导入。请让对方重新导出数据包。",
        "not_bundle": "不是完整的数据包：{why}",
        "from": "数据包来自 {who}，发往 {to}，制作于 {at}",
        "signature": "签名：{sig}",
        "docs": "记录：共 {n} 条，完整 {ok} 条，缺少 {missing} 条，损坏 {damaged} 条",
        "media": "媒体：{n} 个文件，{parts} 个分卷",
        "missing": "  缺少：{id}",
        "damaged": "  损坏：{id}",
        "complete": "完整",
        "incomplete": "不完整",
        "refused_whole": "数据包被拒绝，未导入任何内容：{why}",
        "not_authorized": "对方无权写入这类记录",
        "tampered": "文件被改动或损坏",
        "missing_file": "文件缺失",
        "cannot_decrypt": "无法解密（不是发给本机的）",
        "regresses": "会让撤销名单或内容目录倒退",
        "bad_document": "记录已损坏",
        "not_encrypted": "村里的记录必须加密传送",
        # why a whole bundle is refused (BundleError codes of sync/bundle.py)
        "bad_signature": "签名验证失败：数据包被改动过",
        "bundle_incomplete": "数据包不完整（导出时被中断，或U盘被提前拔出）",
        "bundle_malformed": "清单已损坏，或不是本系统的数据包",
        "bundle_no_key": "还没有这个村的密钥：请让该村先联网同步一次，或先送来一个数据包",
        "bundle_no_village": "在县里导出时请用 --village 指明发往哪个村",
        "bundle_unknown_node": "{village}村没有本县见过的节点 {node}；已知节点：{known}",
        "bundle_node_not_relay": "--node 只能在县里导出时使用（与 --village 一起）",
        "none_known": "无（该村还没有联网同步过，也没有送来过数据包）",
        "export_for_node": "（发往节点 {node}）",
        "bundle_not_for_us": "这个数据包不是发给本机的",
        "bundle_own": "这是本机自己导出的数据包",
        "wrong_county": "签发者不属于本县",
        "revoked": "签发数据包的设备已被吊销",
        "expired": "签发数据包的设备证书已过期",
        "not_yet_valid": "签发数据包的设备证书尚未生效（请检查时钟）",
        "bad_certificate": "签发者的证书无效",
    },
    "en": {
        "export_empty": "bundle written to {path}: no new documents since the last receipt "
                        "({bytes} bytes: the manifest, with our receipt for the other side)",
        "export": "bundle written to {path}: {docs} documents, {bytes} bytes. The data leaves "
                  "custody only when a receipt comes back.",
        "never_met": " (destination never met: everything in its scope)",
        "nothing_new": "nothing new: this store already holds the {docs} documents of the "
                       "bundle from {who}",
        "phase_export": "export",
        "phase_import": "import",
        "phase_media": "media",
        "phase_inspect": "inspect",
        "imported": "imported from {who}: {docs} documents, {changed} changed, {refused} "
                    "refused",
        "blocks": ", {blocks} media blocks",
        "receipt": "; receipt applied",
        "media_incomplete": "  media {sha} incomplete: the rest comes over the network",
        "refused": "  refused {id}: {why}",
        "refused_total": "{n} part(s) refused and not stored; the rest was imported. Ask "
                         "the sender for a new bundle.",
        "not_bundle": "not a complete bundle: {why}",
        "from": "bundle from {who} for {to}, made {at}",
        "signature": "signature: {sig}",
        "docs": "documents: {n} listed, {ok} complete, {missing} missing, {damaged} damaged",
        "media": "media: {n} file(s) in {parts} part(s)",
        "missing": "  missing: {id}",
        "damaged": "  damaged: {id}",
        "complete": "complete",
        "incomplete": "INCOMPLETE",
        "refused_whole": "bundle refused, nothing imported: {why}",
        "not_authorized": "the sender may not write this record",
        "tampered": "the file was altered or damaged",
        "missing_file": "the file is missing",
        "cannot_decrypt": "cannot be decrypted (not for this machine)",
        "regresses": "would take the revocation list or the content catalog backwards",
        "bad_document": "the record is damaged",
        "not_encrypted": "village records must travel encrypted",
        "bundle_not_for_us": "this bundle was made for another destination (the county "
                             "relay, or another village), not for this machine",
        "bundle_own": "this bundle was exported by this very machine",
        "bundle_no_village": "at the relay, say with --village which village the bundle "
                             "is for",
        "bundle_unknown_node": "village {village} has no node {node} that this relay has "
                               "met; known nodes: {known}",
        "bundle_node_not_relay": "--node is for exports at the relay (with --village)",
        "none_known": "none (the village has never synced nor sent a bundle)",
        "export_for_node": " (for node {node})",
    },
}


def _t(lang: str, key: str, **values: Any) -> str:
    return (_M.get(lang) or _M["en"])[key].format(**values)


def _refusal_text(lang: str, exc: Any) -> str:
    """Why a whole command was refused, in the command's language."""
    details = getattr(exc, "details", {}) or {}
    if exc.code == "bundle_unknown_node":
        known = ", ".join(details.get("known") or []) or _t(lang, "none_known")
        return _t(lang, "bundle_unknown_node", village=details.get("village", ""),
                  node=details.get("node", ""), known=known)
    return _why(lang, exc.code, str(exc))


def _why(lang: str, code: str, message: str) -> str:
    key = "missing_file" if code == "missing" else code
    local = _M.get(lang, {}).get(key)
    if lang == "zh":  # one language per output: the English detail goes to the log
        logging.getLogger("villagecourt.bundle").info("%s: %s", code, message)
        return local or _M["zh"]["bundle_malformed"]
    return _M["en"].get(key) or message


def _bundle_lang(args: argparse.Namespace) -> str:
    """The language of these commands: at the relay --lang, else $VILLAGECOURT_LANG, else
    Chinese like the rest of the relay's commands; on a node the node's language
    (node/cli.py's rules: Chinese by default)."""
    from .cli import _lang

    if getattr(args, "relay", False) or getattr(args, "relay_home", None) \
            or getattr(args, "village", None):
        import os

        env = os.environ.get("VILLAGECOURT_LANG", "")
        return getattr(args, "lang", None) or (env if env in _M else "zh")
    return _lang(args)


def print_export(r: "ExportResult", lang: str = "en") -> None:
    if not r.docs:
        print(_t(lang, "export_empty", path=r.path, bytes=r.bytes)
              + (_t(lang, "export_for_node", node=r.dest_node) if r.dest_node else ""))
        return
    print(_t(lang, "export", path=r.path, docs=r.docs, bytes=r.bytes)
          + (_t(lang, "export_for_node", node=r.dest_node) if r.dest_node else "")
          + ("" if r.dest_store else _t(lang, "never_met")))


def print_import(r: "ImportResult", lang: str = "en") -> None:
    if r.nothing_new:
        print(_t(lang, "nothing_new", who=r.exporter, docs=r.docs))
    else:
        print(_t(lang, "imported", who=r.exporter, docs=r.docs, changed=r.changed,
                 refused=len(r.refused))
              + (_t(lang, "blocks", blocks=r.blocks) if r.blocks else "")
              + (_t(lang, "receipt") if r.receipt_applied else ""))
    for sha in r.media_incomplete:
        print(_t(lang, "media_incomplete", sha=sha[:16]))
    for ref in r.refused:
        print(_t(lang, "refused", id=ref.doc_id, why=_why(lang, ref.code, ref.message)))
    if r.refused:
        print(_t(lang, "refused_total", n=len(r.refused)))


def print_inspection(i: "Inspection", lang: str = "en") -> None:
    if not i.exporter and i.problem:
        print(_t(lang, "not_bundle", why=i.problem))
        return
    print(_t(lang, "from", who=i.exporter, to=i.destination, at=i.created_at))
    print(_t(lang, "signature", sig=i.signature))
    ok = len(i.docs) - len(i.missing) - len(i.damaged)
    print(_t(lang, "docs", n=len(i.docs), ok=ok, missing=len(i.missing),
             damaged=len(i.damaged)))
    kinds: dict[str, int] = {}
    for d in i.docs:
        kinds[d.kind] = kinds.get(d.kind, 0) + 1
    for kind, n in sorted(kinds.items()):
        print(f"  {kind}: {n}")
    for doc_id in i.missing:
        print(_t(lang, "missing", id=doc_id))
    for doc_id in i.damaged:
        print(_t(lang, "damaged", id=doc_id))
    parts = sum(len(b.get("parts") or []) for b in i.blobs if isinstance(b, dict))
    print(_t(lang, "media", n=len(i.blobs), parts=parts))
    print(_t(lang, "complete" if i.complete else "incomplete"))


def export_json(r: "ExportResult") -> dict[str, Any]:
    """``bundle export --json``: what was written, and for whom."""
    return {"path": str(r.path), "docs": r.docs, "bytes": r.bytes, "since": r.since,
            "upto": r.upto, "destination_store": r.dest_store, "destination_node": r.dest_node,
            "met_before": bool(r.dest_store)}


def import_json(r: "ImportResult") -> dict[str, Any]:
    """``bundle import --json``: documents in the bundle, changed, refused (each with its
    code), media blocks taken, and whether it brought nothing new."""
    return {"exporter": r.exporter, "exporter_store": r.exporter_store, "docs": r.docs,
            "changed": r.changed, "nothing_new": r.nothing_new,
            "refused": [{"id": x.doc_id, "code": x.code} for x in r.refused],
            "checkpoint_advanced": r.checkpoint_advanced,
            "receipt_applied": r.receipt_applied, "media_blocks": r.blocks,
            "media_incomplete": r.media_incomplete}


def inspection_json(i: "Inspection") -> dict[str, Any]:
    """``bundle inspect --json``: the manifest's summary and each document's state."""
    return {"complete": i.complete, "exporter": i.exporter, "exporter_store": i.exporter_store,
            "destination": i.destination, "created_at": i.created_at, "signature": i.signature,
            "since": i.since, "upto": i.upto, "problem": i.problem,
            "docs": len(i.docs), "missing": i.missing, "damaged": i.damaged,
            "media": len(i.blobs)}


async def run_action(action: str, args: argparse.Namespace, store: "Store", signer: "Signer",
                     blobs: "BlobStore | None" = None) -> int:
    from sync.bundle import BundleError, export_bundle, import_bundle, inspect_bundle

    from .cli import emit_json

    lang = _bundle_lang(args)
    as_json = getattr(args, "json", False)
    progress = _progress(getattr(args, "quiet", False) or as_json, lang)
    path = Path(args.dir)
    try:
        if action == "export":
            exported = await export_bundle(store, signer, path,
                                           village=getattr(args, "village", None),
                                           node=getattr(args, "node", None),
                                           blobs=None if args.no_media else blobs,
                                           progress=progress)
            if as_json:
                emit_json(export_json(exported))
            else:
                print_export(exported, lang)
            return 0
        if action == "import":
            r = await import_bundle(store, signer.identity, signer.ca, path, blobs=blobs,
                                    decrypt_key=signer.box, progress=progress)
            if as_json:
                emit_json(import_json(r))
            else:
                print_import(r, lang)
            return 3 if r.refused else 0
    except BundleError as exc:
        logging.getLogger("villagecourt.bundle").info("bundle %s refused: %s", action, exc)
        why = _refusal_text(lang, exc)
        print(f"villagecourt: {_t(lang, 'refused_whole', why=why)}", file=sys.stderr)
        return 1
    insp = await inspect_bundle(path, ca=signer.ca, store=store, progress=progress)
    if as_json:
        emit_json(inspection_json(insp))
    else:
        print_inspection(insp, lang)
    return 0 if insp.complete else 1


def _cmd(action: str, relay: RelayRunner | None) -> Callable[[argparse.Namespace], int]:
    def cmd(args: argparse.Namespace) -> int:
        if getattr(args, "node", None) and not getattr(args, "village", None):
            lang = _bundle_lang(args)
            print(f"villagecourt: {_t(lang, 'bundle_node_not_relay')}", file=sys.stderr)
            return 2
        if getattr(args, "relay", False) or getattr(args, "relay_home", None) \
                or getattr(args, "village", None):
            if relay is None:
                raise ConfigError("no_relay", "relay support is not installed")
            return relay(args, lambda store, signer, blobs: run_action(action, args, store, signer,
                                                                      blobs))
        from store.blobs import BlobStore

        from .cli import _home  # the same --home rules as every node command

        async def main() -> int:
            node = await Node.open(Home(_home(args)))
            blobs = await BlobStore.open(node.home.store_file, node.home.path / "blobs")
            try:
                return await run_action(action, args, node.store, node_signer(node), blobs)
            finally:
                await blobs.close()
                await node.close()

        return asyncio.run(main())
    return cmd


def add_commands(sub: Any, *, relay: RelayRunner | None = None) -> None:
    b = sub.add_parser("bundle", help="records and content on a USB stick (no network)")
    bsub = b.add_subparsers(dest="bundle_cmd", metavar="ACTION")
    bsub.required = True
    for action, text in (("export", "write a bundle for the relay (or, at the relay, for a "
                                    "village: --village CODE)"),
                         ("import", "verify and import a bundle"),
                         ("inspect", "what is on the stick: complete, missing, damaged")):
        s = bsub.add_parser(action, help=text)
        s.add_argument("dir", help="the bundle's directory, e.g. /media/usb/villagecourt")
        s.add_argument("--relay", action="store_true", help="run at the county relay")
        s.add_argument("--relay-home", help="the relay's home (implies --relay)")
        s.add_argument("--quiet", action="store_true", help="no progress")
        s.add_argument("--json", action="store_true",
                       help="print the result as JSON (no progress; refusals stay on stderr)")
        s.add_argument("--lang", choices=("zh", "en"), default=argparse.SUPPRESS,
                       help="language of messages (default: the node's; English at the relay)")
        if action == "export":
            s.add_argument("--village", help="at the relay: the village the bundle is for")
            s.add_argument("--node", metavar="NODE_ID",
                           help="at the relay, with --village: the village's node the bundle "
                                "is for (default: the one the relay met last)")
            s.add_argument("--no-media", action="store_true", help="records only, no media")
        s.set_defaults(func=_cmd(action, relay))
