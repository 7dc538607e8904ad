"""Helper process for test_crash.py: makes edits to a node store and reports each one on
stdout only after the call that made it returned (i.e. after COMMIT).

    python crash_worker.py HOME EDITS SEED

Lines printed, one per edit, flushed at once:

    create <n> <doc_id> <number>     a case was registered (its title is "案件<n>")
    session <n> <doc_id>             a session with summary "调解记录<n>" was logged
    title <n> <doc_id>               the case's title was set to "标题<n>"

``n`` counts edits from 1. The parent kills this process with SIGKILL at a random moment.
"""

from __future__ import annotations

import asyncio
import random
import sys
from pathlib import Path

from node import Node
from store.records import Party

CASE_EVERY = 20  # one case registered per this many edits; the rest edit existing cases


def say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


async def run(home: Path, edits: int, seed: int) -> None:
    rng = random.Random(seed)
    node = await Node.open(home)
    doc_ids: list[str] = []
    for n in range(1, edits + 1):
        if not doc_ids or n % CASE_EVERY == 1:
            case = await node.cases.register(
                category="neighbour", title=f"案件{n}", description="崩溃测试",
                parties=[Party("applicant", "张建国", "13812345678")])
            doc_ids.append(case.doc_id)
            say(f"create {n} {case.doc_id} {case.number}")
        elif rng.random() < 0.6:
            doc_id = rng.choice(doc_ids)
            await node.cases.log_session(doc_id, date="2026-01-01", participants="双方",
                                         summary=f"调解记录{n}")
            say(f"session {n} {doc_id}")
        else:
            doc_id = rng.choice(doc_ids)
            await node.cases.edit(doc_id, title=f"标题{n}")
            say(f"title {n} {doc_id}")
    say("done")
    await node.close()


if __name__ == "__main__":
    asyncio.run(run(Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])))
