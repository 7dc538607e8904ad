"""Sync: where this node stands with the county relay and the LAN, a "sync now" button
with progress, and the history of sessions with their errors in plain words.

``node.sync_now()`` runs in a worker (the screen never waits on the network); progress
comes back as node events through the bridge. When no sync daemon runs, the node raises
ConfigError("no_sync"), which is said as what it means for the director."""

from __future__ import annotations

import asyncio
from typing import Any

from rich.table import Table
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Button, Static

from node import ConfigError
from node.events import PeerSeen, SyncFinished, SyncProgress, SyncStarted

from ..i18n import ago, error_text, t
from ..widgets.fields import TLabel
from ..widgets.tables import NavTable
from .guard import when_shown
from .pane import Pane

HISTORY_SHOWN = 30
# "Sync now" always ends within this: a result, or a plain reason. The sessions go on
# being retried by the sync loop in the background.
SYNC_WAIT_S = 15.0


def peer_name(peer_id: str, label: str | None) -> str:
    if label == "relay":
        return t("sync.relay_label")
    return label or (peer_id[:12] if peer_id else t("none"))


def first_sentence(text: str) -> str:
    for stop in ("。", ". "):
        if stop in text:
            return text.split(stop, 1)[0] + stop.strip()
    return text


def wait_text(seconds: float) -> str:
    """How long until the next try, in words (at least the loop's one-second tick)."""
    s = max(1, int(seconds + 0.5))
    return t("sync.in_s", n=s) if s < 120 else t("sync.in_min", n=(s + 30) // 60)


def result_text(entry: dict[str, Any]) -> Text:
    """OK, or the first sentence of the error in plain words (the table is narrow)."""
    if entry.get("ok"):
        return Text(t("sync.result_ok"), style="green")
    return Text(first_sentence(error_text(str(entry.get("error_code") or "sync_error"))),
                style="red")


class SyncPane(Pane):
    tab_id = "sync"

    def __init__(self) -> None:
        super().__init__()
        self.message = ""  # the last progress or result line
        self.running = False
        self._finished = False

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="sync-body"):
            yield Static(id="sync-summary")
            yield Button(t("sync.button") + " (S)", id="sync-now", variant="primary",
                         compact=True)
            yield Static(id="sync-progress")
            yield TLabel("sync.peers", classes="section")
            yield NavTable([("peer", "col.peer", 16), ("address", "col.address", None),
                            ("seen", "col.last_seen", None)], id="sync-peers")
            yield TLabel("sync.peers_none", classes="empty", id="sync-peers-none")
            yield TLabel("sync.history", classes="section")
            yield NavTable([("when", "col.when", None), ("peer", "col.peer", 12),
                            ("sent", "col.sent", None), ("received", "col.received", None),
                            ("result", "col.result", 36)], id="sync-history")
            yield TLabel("sync.history_none", classes="empty", id="sync-history-none")

    def focus_default(self) -> None:
        self.query_one("#sync-now").focus()

    @work(exclusive=True, group="sync-status")
    @when_shown
    async def reload(self) -> None:
        status = await self.vc.node.sync_status()
        summary = Table.grid(padding=(0, 2))
        summary.add_column(style="dim", no_wrap=True)
        summary.add_column()
        summary.add_row("", Text(t("sync.online") if status.online else t("sync.offline"),
                                 style="bold green" if status.online else "bold yellow"))
        summary.add_row(t("sync.relay"), status.relay_url or t("sync.relay_none"))
        summary.add_row(t("sync.last"), ago(status.last_sync) if status.last_sync
                        else t("sync.never"))
        summary.add_row(t("sync.pending"), t("sync.pending_n", n=status.pending_to_relay))
        self.query_one("#sync-summary", Static).update(summary)

        peers: dict[str, tuple[str, str, str]] = {}
        for p in status.peers:
            if p.get("label") == "relay":
                continue
            peers[p["peer_id"]] = (peer_name(p["peer_id"], p.get("label")), "",
                                   ago(p.get("last_seen")))
        for seen in self.vc.lan_peers.values():
            peers[seen.peer_id] = (peer_name(seen.peer_id, seen.label), seen.address,
                                   t("ago.just_now"))
        table = self.query_one("#sync-peers", NavTable)
        table.set_rows([(pid, list(cells)) for pid, cells in peers.items()])
        table.display = bool(peers)
        self.query_one("#sync-peers-none").display = not peers

        history = status.history[:HISTORY_SHOWN]
        log = self.query_one("#sync-history", NavTable)
        log.set_rows([
            (str(i), [ago(e.get("finished_at") or e.get("started_at")),
                      peer_name(str(e.get("peer_id") or ""), e.get("peer_label")),
                      str(e.get("docs_sent") or 0), str(e.get("docs_received") or 0),
                      result_text(e)])
            for i, e in enumerate(history)])
        log.display = bool(history)
        self.query_one("#sync-history-none").display = not history
        self._progress()
        self.loaded()

    def _progress(self) -> None:
        self.query_one("#sync-progress", Static).update(self.message)

    # --- sync now ----------------------------------------------------------------------
    @on(Button.Pressed, "#sync-now")
    def _pressed(self) -> None:
        self.sync_now()

    def sync_now(self) -> None:
        if self.running:
            return
        self.running = True
        self._finished = False  # a SyncFinished seen during this run
        self.message = t("sync.starting")
        self._progress()
        self.query_one("#sync-now", Button).disabled = True
        self._run_sync()

    @work(exclusive=True, group="sync-now")
    @when_shown
    async def _run_sync(self) -> None:
        try:
            results = await asyncio.wait_for(self.vc.node.sync_now(), SYNC_WAIT_S)
            if results or not self._finished:  # else: the session's own word stands
                self.message = await self._outcome(results)
        except ConfigError as exc:
            self.message = error_text(exc)
        except asyncio.TimeoutError:
            self.message = await self._outcome(None)
        except Exception as exc:  # noqa: BLE001 — a sync error must never take the app down
            self.message = t("sync.failed", reason=error_text(exc))
        finally:
            self.running = False
            if self.is_attached:
                self.query_one("#sync-now", Button).disabled = False
                self._progress()
        self.reload()

    async def _outcome(self, results: list[Any] | None) -> str:
        """What "sync now" came to, and what to do: nobody to sync with (no relay set up:
        the technician runs provision), or a failure with the last success and the next
        try. ``None``: no answer within SYNC_WAIT_S."""
        node = self.vc.node
        if results is not None and not results:
            return t("sync.nobody") if not node.config.relay_url else t("sync.nobody_lan")
        failed = [r for r in results or [] if not r.ok]
        if results and not failed:
            return t("sync.ok", sent=sum(r.counters.docs_sent for r in results),
                     received=sum(r.counters.docs_changed for r in results))
        if results is None:
            reason = t("sync.no_answer", s=int(SYNC_WAIT_S))
        else:
            err = failed[0].error
            details = getattr(err, "details", None) or {}
            reason = (t("sync.unreachable", url=node.config.relay_url)
                      if details.get("reason") == "connect_failed"
                      else error_text(str(getattr(err, "code", "") or "sync_error")))
        status = await node.sync_status()
        last = (t("sync.last_ok", when=ago(status.last_sync)) if status.last_sync
                else t("sync.never_ok"))
        syncer = node.syncer
        next_in = getattr(syncer, "relay_next_try", lambda: None)()
        after = (t("sync.next_try", when=wait_text(next_in)) if next_in is not None
                 else t("sync.next_manual"))
        return "\n".join([t("sync.failed", reason=reason), last + " " + after])

    def on_sync_activity(self, event: Any) -> None:
        """Called by the main screen for each ``NodeBridge.SyncActivity``."""
        if isinstance(event, SyncStarted):
            self.message = t("sync.running", peer=peer_name(event.peer, event.peer), sent=0,
                             received=0)
        elif isinstance(event, SyncProgress):
            self.message = t("sync.running", peer=peer_name(event.peer, event.peer),
                             sent=event.sent, received=event.received)
        elif isinstance(event, SyncFinished):
            self._finished = True
            self.message = (t("sync.ok", sent=event.sent, received=event.received) if event.ok
                            else t("sync.failed", reason=error_text(event.error_code
                                                                    or "sync_error")))
            self.stale = True
        elif isinstance(event, PeerSeen):
            self.stale = True
        if self.is_mounted:
            self._progress()
        if self.stale and self.active:
            self.stale = False
            self.reload()

    def retranslate(self) -> None:
        self.query_one("#sync-now", Button).label = t("sync.button") + " (S)"
        super().retranslate()
