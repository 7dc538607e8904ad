"""`case list` pages (--page, --offset, --all) past the store's 500 a query, and every
command, writes included, answers --json (issue 15). In-process `node.cli.main`, real homes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from node.cli import main


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("paging") / "node"
    assert main(["--home", str(path), "demo", "--cases", "520"]) == 0
    return path


def run(home: Path, capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    capsys.readouterr()
    rc = main(["--home", str(home), *argv])
    return rc, capsys.readouterr().out


def test_pages_cover_every_case_once(home: Path, capsys) -> None:
    seen: list[str] = []
    for page in range(1, 7):
        rc, out = run(home, capsys, "case", "list", "--limit", "100", "--page", str(page),
                      "--json")
        assert rc == 0
        seen += [r["doc_id"] for r in json.loads(out)]
    assert len(seen) == len(set(seen)) == 520
    rc, out = run(home, capsys, "case", "list", "--all", "--json")
    assert sorted(r["doc_id"] for r in json.loads(out)) == sorted(seen)  # past 500
    rc, out = run(home, capsys, "case", "list", "--offset", "510", "--json")
    assert [r["doc_id"] for r in json.loads(out)] == seen[510:]


def test_a_page_says_how_to_see_more(home: Path, capsys) -> None:
    rc, out = run(home, capsys, "case", "list", "--limit", "10", "--page", "2")
    assert "这是第 11–20 件：用 --page 3 看下一页，或 --all 看全部。" in out
    rc, out = run(home, capsys, "case", "list", "--all")
    assert "共 520 件，显示 520 件" in out and "--page" not in out


def test_bad_page_is_a_usage_error(home: Path, capsys) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--home", str(home), "case", "list", "--page", "0"])
    assert exc.value.code == 2
    with pytest.raises(SystemExit):
        main(["--home", str(home), "case", "list", "--limit", "501"])


def test_writes_answer_json(home: Path, capsys) -> None:
    rc, out = run(home, capsys, "case", "add", "--category", "land", "--title", "地界",
                  "--party", "申请人:张三", "--json")
    number = json.loads(out)["number"]
    rc, out = run(home, capsys, "case", "status", number, "mediating", "--json")
    assert rc == 0 and json.loads(out) == {**json.loads(out), "status": "mediating"}
    rc, out = run(home, capsys, "case", "session", number, "--summary", "双方到场", "--json")
    assert json.loads(out)["sessions"] == 1
    rc, out = run(home, capsys, "case", "close", number, "--agreement", "以石为界",
                  "--on", "2026-01-10", "--json")
    closed = json.loads(out)
    assert closed["status"] == "closed" and len(closed["followups"]) == 3
    rc, out = run(home, capsys, "followup", "done", number, "1", "--json")
    assert json.loads(out)["month"] == 1


def test_init_and_demo_answer_json(tmp_path: Path, capsys) -> None:
    home = tmp_path / "n"
    rc, out = run(home, capsys, "init", "--village", "BY", "--name", "白云村", "--json")
    made = json.loads(out)
    assert rc == 0 and (made["village"], made["village_name"], made["county"]) == \
        ("BY", "白云村", "local")
    assert made["home"] == str(home) and made["language"] == "zh" and made["node_id"]
    rc, out = run(home, capsys, "demo", "--cases", "7", "--json")
    assert rc == 0 and json.loads(out) == {"cases": 7, "added": 7, "home": str(home)}
    rc, out = run(home, capsys, "demo", "--cases", "7", "--json")  # a node with cases
    assert rc == 0 and json.loads(out) == {"cases": 7, "added": 0, "home": str(home)}
