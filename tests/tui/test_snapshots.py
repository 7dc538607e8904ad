"""Snapshots of the main screens in Chinese and English, from seeded data.

Each screen is saved as SVG (``app.save_screenshot``) and checked for the text a person
must see on it. Nothing is compared with stored golden files: dates and case numbers
differ from run to run.

To keep the pictures (docs/tui.md shows them):

    VC_SNAPSHOT_DIR=/tmp/vc-svg VC_SNAPSHOT_PNG_DIR=docs/img pytest tests/tui/test_snapshots.py

VC_SNAPSHOT_DIR keeps the SVGs; VC_SNAPSHOT_PNG_DIR also renders each as PNG with a
headless Chromium (Debian: ``apt-get install chromium fonts-wqy-microhei``)."""

from __future__ import annotations

import datetime as dt
import html
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from rich.cells import cell_len

from node import Node
from node.demo import fill_demo
from tui.app import make_app
from tui.screens.case_detail import CaseDetailScreen
from tui.screens.case_form import RegisterCaseScreen
from tui.screens.case_list import CasesPane

from .conftest import SIZE, TODAY, screen_text, wait_for, wait_text

# (file name, key presses from the home page, text that must be on screen: zh, en)
SCREENS: list[tuple[str, tuple[str, ...], tuple[str, ...], tuple[str, ...]]] = [
    ("home", ("f1",), ("要做的回访", "等您处理的案件", "F8 English", "离线"),
     ("Follow-up visits due", "Open cases waiting", "F8 中文", "Offline")),
    ("cases", ("f2",), ("输入案号、姓名或关键词", "共 60 件", "案号", "Ctrl+N 登记案件"),
     ("Type a case number", "60 cases", "Number", "Ctrl+N New case")),
    ("consult", ("f3",), ("问（", "答（", "等待答复"), ("Question (", "answered (", "Waiting")),
    ("education", ("f4",), ("放映记录", "典型案例", "Ctrl+N 记录放映"),
     ("Screenings held", "Typical case", "Ctrl+N Screening")),
    ("sync", ("f5",), ("县服务器", "立即同步", "同步记录"),
     ("County server", "Sync now", "Sync history")),
    ("stats", ("f6",), ("调解成功率", "按类型", "按状态", "邻里纠纷"),
     ("Mediation success", "By category", "By status", "Neighbour")),
]


@pytest.fixture
async def demo(node: Node) -> Node:
    await fill_demo(node, cases=60, seed=7, today=TODAY)
    return node


def out_dir(tmp_path: Path) -> Path:
    keep = os.environ.get("VC_SNAPSHOT_DIR")
    path = Path(keep) if keep else tmp_path / "svg"
    path.mkdir(parents=True, exist_ok=True)
    return path


def svg_text(svg: str) -> str:
    """The characters an SVG screenshot shows, in order, without spaces (Rich puts each
    Chinese character in its own <text> element)."""
    chars = "".join(html.unescape(t) for t in re.findall(r"<text[^>]*>([^<]*)</text>", svg))
    return re.sub(r"\s+", "", chars)


_TEXT = re.compile(r'(<text [^>]*?textLength=")([0-9.]+)("[^>]*>)([^<]*)(</text>)')


def fix_wide_chars(svg: str) -> str:
    """Rich's SVG export sizes each text run by characters, not terminal cells, so a
    browser squeezes Chinese (two cells a character) into half its width. Size by cells."""

    def widen(m: re.Match[str]) -> str:
        text = html.unescape(m.group(4))
        if not text or cell_len(text) == len(text):
            return m.group(0)
        per_char = float(m.group(2)) / len(text)
        return f"{m.group(1)}{per_char * cell_len(text):g}{m.group(3)}{m.group(4)}{m.group(5)}"

    return _TEXT.sub(widen, svg)


def to_png(svg: Path) -> None:
    """Render ``svg`` as PNG into VC_SNAPSHOT_PNG_DIR, if asked for and Chromium is here."""
    target = os.environ.get("VC_SNAPSHOT_PNG_DIR")
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if not target or browser is None:
        return
    width, height = (float(v) for v in re.findall(
        r'viewBox="0 0 ([0-9.]+) ([0-9.]+)"', svg.read_text(encoding="utf-8"))[0])
    out = Path(target).resolve() / (svg.stem + ".png")
    out.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu",
                    "--hide-scrollbars", f"--screenshot={out}",
                    f"--window-size={int(width)},{int(height) + 1}", svg.resolve().as_uri()],
                   capture_output=True, timeout=60, check=True)


def shoot(app: Any, folder: Path, name: str, *needles: str) -> None:
    """Save the screen as SVG and check the SVG shows ``needles``."""
    path = Path(app.save_screenshot(f"{name}.svg", str(folder)))
    svg = fix_wide_chars(path.read_text(encoding="utf-8"))
    path.write_text(svg, encoding="utf-8")
    assert svg.startswith("<svg") and "</svg>" in svg
    shown = svg_text(svg)
    for needle in needles:
        assert re.sub(r"\s+", "", needle) in shown, (name, needle)
    to_png(path)


@pytest.mark.parametrize("lang", ["zh", "en"])
async def test_main_screens(demo: Node, lang: str, tmp_path: Path) -> None:
    folder = out_dir(tmp_path)
    app = make_app(demo, lang, clock=lambda: TODAY)
    app.animation_level = "none"
    async with app.run_test(size=SIZE) as pilot:
        await wait_text(pilot, "F1")
        for name, keys, zh, en in SCREENS:
            await pilot.press(*keys)
            needles = zh if lang == "zh" else en
            if name == "consult":
                # The list is newest first, and the demo asks and answers its questions
                # within a second or two: which one comes first (answered or waiting) is
                # down to the clock. Move to the first answered one to see its answer.
                question, answer, waiting = needles
                await wait_text(pilot, question, waiting)
                for _ in range(10):
                    if answer in screen_text(app):
                        break
                    await pilot.press("down")
                    await pilot.pause(0.05)
            await wait_text(pilot, *needles)
            shoot(app, folder, f"{name}-{lang}", *needles)

        # A case with its timeline, and the registration form.
        await pilot.press("f2")
        pane = app.screen.query_one(CasesPane)
        pane.query_one("#case-filter").value = "调解成功" if lang == "zh" else "agreed"
        await wait_for(pilot, lambda: pane.applied == ("", None, "agreed"), what="filter")
        await pilot.press("down", "enter")
        await wait_for(pilot, lambda: isinstance(app.screen, CaseDetailScreen))
        needles = (("当事人", "经过", "C 结案") if lang == "zh" else
                   ("Parties", "Timeline", "C Close"))
        await wait_text(pilot, *needles)
        shoot(app, folder, f"case-{lang}", *needles)
        await pilot.press("c")
        needles = ("结案 · ", "调解协议") if lang == "zh" else ("Close · ", "Agreement")
        await wait_text(pilot, *needles)
        shoot(app, folder, f"close-{lang}", *needles)
        await pilot.press("escape", "escape", "ctrl+n")
        await wait_for(pilot, lambda: isinstance(app.screen, RegisterCaseScreen))
        await pilot.press("ctrl+s")  # show the inline errors
        needles = (("登记新纠纷", "请选择纠纷类型", "身份证号") if lang == "zh" else
                   ("Register a dispute", "Choose a category", "ID number"))
        await wait_text(pilot, *needles)
        shoot(app, folder, f"register-{lang}", *needles)
        await pilot.press("ctrl+l", "escape")
    assert len(list(folder.glob(f"*-{lang}.svg"))) == len(SCREENS) + 3


async def test_demo_data_is_dated_by_the_clock(demo: Node) -> None:
    """The fixture's data is seeded and dated by TODAY, so the screens are stable."""
    due = await demo.followups.due(on=TODAY)
    assert all(dt.date.fromisoformat(v.due_date) <= TODAY + dt.timedelta(days=7) for v in due)
    assert await demo.cases.count() == 60


@pytest.mark.parametrize("lang", ["zh", "en"])
async def test_home_and_cases_at_120_by_40(demo: Node, lang: str, tmp_path: Path) -> None:
    """The larger terminal's pictures (docs/tui.md): home's lists and the case list grow
    into the space instead of leaving it blank."""
    folder = out_dir(tmp_path)
    app = make_app(demo, lang, clock=lambda: TODAY)
    app.animation_level = "none"
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_text(pilot, "F1")
        for name, keys, zh, en in SCREENS[:2]:
            await pilot.press(*keys)
            needles = zh if lang == "zh" else en
            await wait_text(pilot, *needles)
            shoot(app, folder, f"{name}-120x40-{lang}", *needles)
        table = app.screen.query_one(CasesPane).query_one("DataTable")
        assert table.size.height > SIZE[1] - 4  # the list is taller than the 80×24 screen
