"""Issue #4, "done when" 7: ``villagecourt doctor`` on a provisioned node, run as the real
command in a subprocess against the live relay of this test.

With the relay up it reports ok for certificate, relay, clock, store and disk and exits 0;
with the relay down it says in plain words that the relay cannot be reached and exits 1.
The node is provisioned with the real ``villagecourt provision`` too, whose first sync
brings the village's records to the new machine.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import sys
from pathlib import Path

from store.records import Party

CLI_TIMEOUT_S = 30.0


def _command() -> list[str]:
    script = Path(sys.executable).with_name("villagecourt")
    return [str(script)] if script.exists() else [sys.executable, "-m", "node"]


async def _cli(*args: str) -> tuple[int, str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("VILLAGECOURT_HOME", "VILLAGECOURT_LANG")}
    proc = await asyncio.create_subprocess_exec(
        *_command(), *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env=env)
    try:
        async with asyncio.timeout(CLI_TIMEOUT_S):
            out, err = await proc.communicate()
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def _doctor_json(home: Path) -> dict[str, str]:
    code, out, err = await _cli("--home", str(home), "doctor", "--json")
    checks = json.loads(out)
    return {c["check"]: c["status"] for c in checks} | {"exit": str(code)}


async def test_doctor_reports_health_and_a_relay_that_is_down(
        county, enrol, sec, tmp_path: Path) -> None:
    a1 = await enrol("a1", village="A")
    for i in range(3):
        await a1.cases.register(category="neighbour", title=f"医生测试案件 {i}",
                                parties=[Party("applicant", "张三")])
    assert (await sec.sync_relay(a1)).ok

    home = tmp_path / "cli-node"
    code, _ = county.tokens.issue("A", "director")
    rc, out, err = await _cli("--home", str(home), "--lang", "en", "provision",
                              "--relay", county.base, "--token", code)
    assert rc == 0, (out, err)
    assert "This machine is now node" in out and "KC/A" in out
    assert "Synced with" in out  # the first sync ran...
    assert code not in out + err  # ...and the code is not echoed back

    rc, out, err = await _cli("--home", str(home), "doctor")  # the node's language: en
    assert rc == 0, (out, err)
    lines = out.strip().splitlines()
    assert len(lines) == 6, lines
    assert all(line.startswith("✓ ") for line in lines), lines
    assert "Certificate valid for" in lines[0] and "director:KC/A" in lines[0]
    assert lines[1].startswith("✓ The county relay answers")
    assert lines[2].startswith("✓ Clock is right")
    assert lines[3].startswith("✓ The store is intact (")
    assert lines[4].startswith("✓ Disk space is fine")
    assert lines[5].startswith("✓ Only this user can read the node home")
    assert await _doctor_json(home) == {
        "certificate": "ok", "relay": "ok", "clock": "ok", "store": "ok", "disk": "ok",
        "permissions": "ok", "exit": "0"}
    # The first sync brought a1's cases: the store holds them (and the profile).
    rc, out, _ = await _cli("--home", str(home), "case", "list", "--json")
    assert rc == 0 and len(json.loads(out)) == 3

    await county.stop()
    rc, out, err = await _cli("--home", str(home), "doctor")
    assert rc == 1, (out, err)
    relay_line = [ln for ln in out.splitlines() if "relay" in ln]
    assert len(relay_line) == 1 and relay_line[0].startswith("✗ Cannot reach the county relay"), \
        out
    assert county.base in relay_line[0] and "Check the network" in relay_line[0]
    for ok in ("✓ Certificate valid", "✓ The store is intact", "✓ Disk space is fine"):
        assert ok in out
    rc, out, err = await _cli("--home", str(home), "--lang", "zh", "doctor")
    assert rc == 1 and "✗ 连不上县级中继" in out, out
    status = await _doctor_json(home)
    assert status["relay"] == "fail" and status["exit"] == "1" and "clock" not in status

    # An expired certificate is a failure of its own, in plain words.
    sec.rewrite_certificate(home, county.home, starts_in=-dt.timedelta(days=10), days=1)
    rc, out, err = await _cli("--home", str(home), "doctor")
    assert rc == 1
    assert out.splitlines()[0].startswith("✗ The certificate expired on"), out
