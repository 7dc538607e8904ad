"""The relay's commands: Chinese by default, English with --lang en, one language per
output, --json; and `relay case list|show` reading the relay's store with personal data left
out (issue 15). In-process `node.cli.main` on a real relay home."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path

import pytest

from node.cli import main
from relay.messages import MESSAGES
from store import Store, casedoc
from store.records import CASE, Party

CJK = re.compile(r"[\u4e00-\u9fff]")
PHONE, ID = "13800138000", "11010519491231002X"


def test_catalogue_has_the_same_keys_and_placeholders() -> None:
    assert MESSAGES["zh"].keys() == MESSAGES["en"].keys()
    for key, zh in MESSAGES["zh"].items():
        assert set(re.findall(r"{(\w+)}", zh)) == set(re.findall(r"{(\w+)}", MESSAGES["en"][key]))


@pytest.fixture()
def relay(tmp_path: Path, monkeypatch) -> Path:
    monkeypatch.delenv("VILLAGECOURT_LANG", raising=False)
    home = tmp_path / "relay"
    assert main(["relay", "--relay-home", str(home), "init", "--county", "KC"]) == 0

    async def fill() -> None:
        from relay.config import RelayHome

        rh = RelayHome(home)
        store = await Store.open(rh.store_file, key=rh.store_key())
        try:
            for n in range(1, 4):
                parties = [Party("applicant", f"张{n}三", PHONE, ID)]
                await store.create(CASE, "village:KC/BY", lambda doc, n=n: casedoc.new_case(
                    doc, number=f"BY-AAA-{n:04d}", category="land", title=f"地界纠纷{n}",
                    description="张三说", parties=parties, group=False, headcount=0,
                    mediator="", village="BY", county="KC", by="director:KC/BY:a"))
        finally:
            await store.close()

    asyncio.run(fill())
    return home


def out_of(capsys, *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    rc = main(list(argv))
    got = capsys.readouterr()
    return rc, got.out, got.err


def test_token_in_chinese_then_english_then_json(relay: Path, capsys) -> None:
    rc, out, err = out_of(capsys, "relay", "--relay-home", str(relay), "token", "--village", "BY")
    assert rc == 0 and "村 BY（县 KC）调解主任的登记码" in out and "enrolment" not in out
    rc, out, err = out_of(capsys, "relay", "--relay-home", str(relay), "token", "--village", "BY",
                          "--lang", "en")
    assert "enrolment code for a director" in out and not CJK.search(out)
    rc, out, err = out_of(capsys, "relay", "--relay-home", str(relay), "token", "--village", "BY",
                          "--json")
    assert re.fullmatch(r"[0-9A-Z]{4}(-[0-9A-Z]{4}){3}", json.loads(out)["code"])


def test_errors_in_the_commands_language(relay: Path, tmp_path: Path, capsys) -> None:
    rc, out, err = out_of(capsys, "relay", "--relay-home", str(tmp_path / "none"), "case", "list")
    assert rc == 1 and "这里还没有中继" in err
    rc, out, err = out_of(capsys, "relay", "--relay-home", str(tmp_path / "none"), "case",
                          "list", "--lang", "en")
    assert rc == 1 and "no relay here" in err and not CJK.search(err)


def test_relay_case_list_and_show_keep_personal_data_sealed(relay: Path, capsys) -> None:
    rc, out, err = out_of(capsys, "relay", "--relay-home", str(relay), "case", "list",
                          "--limit", "2")
    assert rc == 0 and "共 3 件，显示第 1–2 件" in out and "--page 2" in out
    rc, out, err = out_of(capsys, "relay", "--relay-home", str(relay), "case", "list", "--all",
                          "--json")
    cases = json.loads(out)["cases"]
    assert sorted(c["number"] for c in cases) == ["BY-AAA-0001", "BY-AAA-0002", "BY-AAA-0003"]
    for argv in (["case", "show", "BY-AAA-0002"], ["case", "show", "BY-AAA-0002", "--json"],
                 ["case", "show", "BY-AAA-0002", "--lang", "en"]):
        rc, out, err = out_of(capsys, "relay", "--relay-home", str(relay), *argv)
        assert rc == 0 and "BY-AAA-0002" in out
        assert "张2三" not in out and PHONE not in out and ID not in out and "张三说" not in out
    assert "当事人：1 位" in out or "parties: 1" in out
    rc, out, err = out_of(capsys, "relay", "--relay-home", str(relay), "case", "show", "BY-X")
    assert rc == 1 and "找不到 BY-X" in err
