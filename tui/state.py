"""What the UI remembers between runs that is not a record: which judge's answers the
director has already read, and the language chosen with F8 (the TUI's own: the command
line keeps the node's configured language). Doc ids only (no personal data), in
``<home>/tui.json``."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

log = logging.getLogger(__name__)

SEEN_KEEP = 500  # answers remembered as read; older ones are long off the home page


class UiState:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.seen_answers: list[str] = []
        self.language: str | None = None
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            self.seen_answers = [str(x) for x in data.get("seen_answers", [])][-SEEN_KEEP:]
            lang = data.get("language")
            self.language = lang if lang in ("zh", "en") else None
        except FileNotFoundError:
            pass
        except (OSError, ValueError, AttributeError):
            log.warning("ignoring unreadable %s", path)

    def mark_seen(self, doc_id: str) -> None:
        if doc_id in self.seen_answers:
            return
        self.seen_answers = [*self.seen_answers, doc_id][-SEEN_KEEP:]
        self._save()

    def set_language(self, lang: str) -> None:
        if lang != self.language:
            self.language = lang
            self._save()

    def _save(self) -> None:
        try:
            tmp = self.path.with_name(self.path.name + ".tmp")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # home: 0600
            with open(fd, "w", encoding="utf-8") as f:
                f.write(json.dumps({"seen_answers": self.seen_answers,
                                    "language": self.language}))
            os.replace(tmp, self.path)
        except OSError:
            log.warning("cannot save %s", self.path, exc_info=True)
