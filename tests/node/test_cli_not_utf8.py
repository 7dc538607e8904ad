"""Issue #12, item 3: command-line arguments that are not valid UTF-8.

Python hands such bytes to the program as lone surrogates (PEP 383). Every command must
answer with one plain line and exit 2 (a usage error), and store nothing; the store itself
refuses such text with ``bad_text`` whoever calls it.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from node import Node
from node.cli import main
from store import ValidationError
from store.records import Party

BAD = os.fsdecode(b"\xff\xfe")  # what Python makes of the bytes 0xff 0xfe in argv


def snapshot(root: Path) -> dict[str, str]:
    """Every file under ``root`` with a digest of its bytes."""
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture
def home(tmp_path: Path) -> Path:
    h = tmp_path / "node"
    assert main(["--home", str(h), "init", "--village", "BY", "--name", "白云村"]) == 0
    assert main(["--home", str(h), "case", "add", "--category", "neighbour", "--title",
                 "邻里纠纷", "--party", "applicant:张三"]) == 0
    return h


COMMANDS = [
    ["case", "add", "--category", "neighbour", "--title", BAD, "--party", "applicant:张三"],
    ["case", "add", "--category", "neighbour", "--title", "t", "--party", f"applicant:{BAD}"],
    ["case", "add", "--category", "neighbour", "--title", "t", f"--party=applicant:李{BAD}"],
    ["case", "add", "--category", "neighbour", "--title", "t", "--party", "applicant:张三",
     "--description", f"说明{BAD}"],
    ["case", "add", "--category", "neighbour", "--title", "t", "--party", "applicant:张三",
     "--mediator", BAD],
    ["case", "session", "BY-1", "--summary", BAD],
    ["case", "close", "BY-1", "--agreement", BAD],
    ["case", "status", "BY-1", "mediating", "--note", BAD],
    ["case", "list", BAD],
    ["case", "show", BAD],
    ["init", "--village", "BY", "--name", BAD, "--force"],
    ["relay", "init", "--county", BAD],
    ["relay", "user", "add", BAD, "--role", "operator"],
    ["bundle", "export", BAD],
]


@pytest.mark.parametrize("argv", COMMANDS, ids=lambda a: " ".join(a[:2]))
def test_every_command_refuses_in_one_line_and_stores_nothing(
        home: Path, tmp_path: Path, argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    relay_home = tmp_path / "relay"
    before = snapshot(tmp_path)
    if argv[0] == "relay":
        argv = ["relay", "--relay-home", str(relay_home), *argv[1:]]
    code = main(["--home", str(home), *argv])
    out, err = capsys.readouterr()
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("villagecourt: ") and "UTF-8" in lines[0]
    assert "Traceback" not in err and out == ""
    assert snapshot(tmp_path) == before
    assert not relay_home.exists()


def test_the_message_names_the_option_in_the_node_language(
        home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--home", str(home), "case", "add", "--category", "neighbour",
                 "--title", BAD, "--party", "applicant:张三"]) == 2
    assert "--title 的内容不是有效的 UTF-8" in capsys.readouterr().err
    assert main(["--home", str(home), "--lang", "en", "case", "list", "x", BAD]) == 2
    assert "Argument 8 is not valid UTF-8" in capsys.readouterr().err


def test_real_bytes_from_the_shell(home: Path) -> None:
    """The same through a real process given raw bytes, as `$'\\xff'` in bash gives them."""
    script = Path(sys.executable).with_name("villagecourt")
    cmd = [os.fsencode(str(script))] if script.exists() else [
        os.fsencode(sys.executable), b"-m", b"node"]
    before = snapshot(home)
    proc = subprocess.run(
        [*cmd, b"--home", os.fsencode(str(home)), b"case", b"add", b"--category",
         b"neighbour", b"--title", b"\xff", b"--party", b"applicant:\xe5\xbc\xa0\xff"],
        capture_output=True, timeout=60, check=False)
    err = proc.stderr.decode("utf-8", "replace")
    assert proc.returncode == 2, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert snapshot(home) == before


async def test_the_store_refuses_such_text_whoever_calls_it(node: Node) -> None:
    seq = await node.store.current_seq()
    for kwargs in ({"title": BAD, "parties": [Party("applicant", "张三")]},
                   {"title": "t", "parties": [Party("applicant", BAD)]},
                   {"title": "t", "parties": [Party("applicant", "张三")],
                    "description": BAD}):
        with pytest.raises(ValidationError) as caught:
            await node.cases.register(category="neighbour", **kwargs)
        assert caught.value.code == "bad_text"
    assert await node.store.current_seq() == seq
    assert await node.cases.search() == []
