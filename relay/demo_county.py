"""A demo county: a relay home holding a year of realistic records of 20+ villages.

``villagecourt demo --county`` builds one and serves it; the browser test and the
benchmark build theirs with the same code. What it writes is what villages would have
synced: a village profile per village; a year of cases per village (categories weighted as
in real villages, more disputes around the spring ploughing and the autumn harvest, open
cases recent and old ones mostly closed, with sessions, agreements and follow-up visits);
questions to the linked judge, most answered and some waiting; 普法 screenings; the
county's education content. A few spikes are injected so the warning rules have
something to find: a labour-dispute wave in one village this week, land disputes in
another last week, a group dispute with sixty people this week, and an old spike three
months back (already handled). Each village's data ends at its last sync (every seventh
village last synced days ago; the last one never did and holds only its profile); the
judge's answers are the relay's own, hours or days after the question.

The sample vocabulary (dispute scenarios, made-up people with valid-looking phone and ID
numbers) is node's (``node/demo.py``); the composition root hands that module in as
``vocab`` so the relay package never imports node.

Documents are built in memory with the shared writers (``store.casedoc``,
``store.kinds``), dated with the builder's clock, and merged into the store in batches of
``BATCH`` (one transaction each), which is ~20× faster than one commit per edit.
The data is deterministic for a seed and a day (document ids aside).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import random
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, Callable, Iterator

from automerge.core import ROOT, Document, ObjType

from store import DocumentStore, Incoming, amdoc, casedoc, kinds, records
from store.records import (
    AGREED,
    CASE,
    CATEGORIES,
    CLOSED,
    CONSULTATION,
    CONTENT,
    ESCALATED,
    FAILED,
    FOLLOWUP_MONTHS,
    MEDIATING,
    REGISTERED,
    SCREENING,
    VILLAGE,
    Party,
    add_months,
)

from .accounts import AccountStore
from .config import RelayHome
from .warning_pass import TZ, WarningPass, week_start
from .warnings import WarningConfig

BATCH = 500  # documents per merge transaction
ORIGIN = "demo-county"  # the "peer" the demo's documents are merged from
COUNTY = "KC"
COUNTY_NAME = "柯城县"

# code, name: Zhejiang-sounding villages. BY matches node's demo village (白云村).
VILLAGES: tuple[tuple[str, str], ...] = (
    ("BY", "白云村"), ("QS", "青山村"), ("SM", "石门村"), ("XK", "溪口村"), ("TB", "塘边村"),
    ("XZ", "下张村"), ("SF", "上方村"), ("CY", "茶园村"), ("FL", "枫林村"), ("SQ", "双桥村"),
    ("LT", "龙潭村"), ("JZ", "金竹村"), ("LX", "柳溪村"), ("FH", "凤凰村"), ("HS", "后山村"),
    ("DT", "大塘村"), ("XT", "新塘村"), ("HN", "黄泥村"), ("DA", "东岸村"), ("XW", "西坞村"),
    ("NH", "南湖村"), ("BL", "北岭村"), ("CL", "长林村"), ("YM", "杨梅村"),
)
_SYLL_A = "白青石溪塘张方茶枫桥龙竹柳凤山黄岸坞湖岭林梅松桃杏"
_SYLL_B = "云山门口边头园林溪潭湾坑垄坂田塘里畈"

# Demo logins (printed by `villagecourt demo --county`; a real relay makes its own).
DEMO_USERS: tuple[tuple[str, str, str, str], ...] = (
    ("operator", "operator", "县法院预警中心 刘科长", "demo-operator-2024"),
    ("judge", "judge", "联系法官 王法官", "demo-judge-2024"),
    ("judge2", "judge", "联系法官 陈法官", "demo-judge2-2024"),
)

# Seasonal weight per month: ploughing (3-4) and harvest (9-10) bring land and labour
# disputes; the weeks around the Spring Festival (1-2) bring family and loan disputes.
SEASON = {1: 1.1, 2: 1.2, 3: 1.15, 4: 1.1, 5: 0.95, 6: 0.9, 7: 0.85, 8: 0.9, 9: 1.05,
          10: 1.1, 11: 0.95, 12: 1.0}


@dataclass(frozen=True)
class Spike:
    village: str
    category: str
    weeks_ago: int  # 0: this week
    extra: int


@dataclass
class DemoCounty:
    home: RelayHome
    county: str
    villages: list[tuple[str, str]]
    counts: dict[str, int] = field(default_factory=dict)
    spikes: list[Spike] = field(default_factory=list)
    group_village: str = ""
    users: tuple[tuple[str, str, str, str], ...] = DEMO_USERS


def village_list(n: int) -> list[tuple[str, str]]:
    """``n`` villages: the named ones first, then made-up codes V025... with names."""
    out = list(VILLAGES[:n])
    i = 0
    while len(out) < n:
        a = _SYLL_A[i % len(_SYLL_A)]
        b = _SYLL_B[(i // len(_SYLL_A)) % len(_SYLL_B)]
        out.append((f"V{len(out) + 1:03d}", f"{a}{b}{'' if i < 400 else i}村"))
        i += 1
    return out


def _ts(day: dt.date, rng: random.Random, now: dt.datetime | None = None) -> str:
    """A moment in office hours of ``day`` (China time), as the UTC ISO string stored;
    never after ``now`` (the village's last sync: the relay cannot hold anything later)."""
    local = dt.datetime(day.year, day.month, day.day, rng.randint(8, 17), rng.randrange(60),
                        rng.randrange(60), tzinfo=TZ)
    now = now or dt.datetime.now(TZ)
    if local > now:  # that day, before office hours are over: never a time still to come
        midnight = dt.datetime(day.year, day.month, day.day, tzinfo=TZ)
        local = max(midnight, now - dt.timedelta(minutes=rng.randint(5, 60 * 3)))
    return local.astimezone(dt.timezone.utc).isoformat(timespec="seconds")


def _retime(doc: Document, key: str, stamps: list[str]) -> None:
    """Give the entries of the list at ``key`` (history, sessions) their real times: the
    shared writers stamp 'now', the demo is a year long."""
    with doc.transaction() as tx:
        got = tx.get(ROOT, key)
        if got is None or not isinstance(got[0], ObjType):
            return
        lst = got[1]
        for i in range(min(tx.length(lst), len(stamps))):
            item = tx.get(lst, i)
            if item is not None and isinstance(item[0], ObjType):
                amdoc.put(tx, item[1], "at", stamps[i])


class _Batch:
    """Documents waiting to be merged into the store, a transaction per BATCH."""

    def __init__(self, store: DocumentStore) -> None:
        self.store = store
        self.items: list[Incoming] = []
        self.written = 0

    async def add(self, doc_id: str, kind: str, scope: str, doc: Document) -> None:
        self.items.append(Incoming(doc_id, kind, scope, doc.save()))
        if len(self.items) >= BATCH:
            await self.flush()

    async def flush(self) -> None:
        if self.items:
            await self.store.merge(self.items, origin=ORIGIN)
            self.written += len(self.items)
            self.items = []


class CaseMaker:
    """Builds one village's case documents from node's sample vocabulary."""

    def __init__(self, vocab: ModuleType, county: str, rng: random.Random,
                 today: dt.date, now: dt.datetime | None = None,
                 clock: dt.datetime | None = None) -> None:
        """``now``: the village's last sync (China time), ``today`` its date; ``clock``: the
        relay's now."""
        self.v = vocab
        self.county = county
        self.rng = rng
        self.people = vocab.DemoPeople(rng)
        self.now = now or dt.datetime.combine(today, dt.time(23, 59), TZ)
        self.clock = clock or self.now  # the relay's own now (the judge answers there)
        self.today = min(today, self.now.astimezone(TZ).date())

    def ts(self, day: dt.date) -> str:
        return _ts(day, self.rng, self.now)

    def status_for(self, age_days: int) -> str:
        r = self.rng.random()
        if age_days < 10:
            return REGISTERED if r < 0.55 else MEDIATING
        if age_days < 45:
            return (REGISTERED, MEDIATING, AGREED, FAILED, ESCALATED, CLOSED)[
                sum(r > x for x in (0.08, 0.45, 0.55, 0.62, 0.72))]
        if age_days < 120:
            return MEDIATING if r < 0.08 else ESCALATED if r < 0.14 else CLOSED
        return ESCALATED if r < 0.03 else CLOSED

    def case(self, village: str, number: str, category: str, created: dt.date, *,
             group: bool | None = None, headcount: int | None = None
             ) -> tuple[Document, str, dt.date | None]:
        """A case registered on ``created``; returns (doc, status, closing day)."""
        rng, v, day0 = self.rng, self.v, self.today
        scenarios = v.SCENARIOS.get(category) or v.SCENARIOS["other"]
        if group is None:
            # Group disputes are rare (about one case in seventy): each one warns at once.
            group = rng.random() < 0.015 and any(s.group for s in scenarios)
        pool = [s for s in scenarios if s.group == group] or list(scenarios)
        scenario = rng.choice(pool)
        applicant = self.people.party("applicant", day0)
        if scenario.orgs:
            respondent = Party("respondent", rng.choice(scenario.orgs),
                               phone=self.people.mobile())
        else:
            respondent = self.people.party("respondent", day0)
        parties = [applicant, respondent]
        if rng.random() < 0.1:
            parties.append(self.people.party("third", day0, with_id=0.3))
        is_group = scenario.group if group is None else group
        heads = headcount if headcount is not None else (
            rng.randint(8, 85) if is_group else 0)
        amount = rng.randint(20, 1200) * 100
        words = {"a": applicant.name, "b": respondent.name, "n": heads,
                 "small": rng.randint(2, 9), "days": rng.choice((7, 10, 15, 20, 30)),
                 "amount": amount, "part": rng.randint(amount // 300, amount // 100) * 100}
        mediator = rng.choice(v.MEDIATORS)
        opened = self.ts(created)
        doc = Document()
        casedoc.new_case(doc, number=number, category=category,
                         title=scenario.title.format(**words),
                         description=scenario.description.format(**words), parties=parties,
                         group=is_group, headcount=heads, mediator=mediator,
                         village=village, county=self.county, by=f"{village} 庭务主任",
                         created_at=opened)
        age = (day0 - created).days
        status = self.status_for(age)
        closed_on: dt.date | None = None
        if status == CLOSED:
            closed_on = min(day0 - dt.timedelta(days=1),
                            created + dt.timedelta(days=rng.randint(4, 75)))
            closed_on = max(closed_on, created)
        last = closed_on or day0
        stamps: list[str] = []
        session_stamps: list[str] = []
        n_sessions = 0 if status == REGISTERED else rng.randint(1, 3)
        span = (last - created).days  # sessions from registration to the last day, never later
        days = sorted(rng.sample(range(0, span + 1), min(n_sessions, span + 1)))
        for k, off in enumerate(days):
            on = created + dt.timedelta(days=off)
            judge = k > 0 and rng.random() < 0.25
            summary = rng.choice(v.JUDGE_SUMMARIES if judge else v.SESSION_SUMMARIES)
            was = amdoc.get_str(doc, "status")
            casedoc.log_session(doc, date=on.isoformat(),
                                participants=f"{applicant.name}、{respondent.name}、调解员{mediator}"
                                + (f"、{v.JUDGE}（视频）" if judge else ""),
                                summary=summary.format(**words), judge_consulted=judge,
                                by=mediator)
            session_stamps.append(max(self.ts(on), opened))  # never before registration
            if was == REGISTERED:
                stamps.append(session_stamps[-1])
        end_stamp = max([self.ts(last), opened, *session_stamps[-1:]])
        if status == AGREED:
            casedoc.change_status(doc, AGREED, note="双方达成一致，待签署协议")
            stamps.append(end_stamp)
        elif status in (FAILED, ESCALATED):
            if amdoc.get_str(doc, "status") == MEDIATING:
                casedoc.change_status(doc, FAILED, note=rng.choice(v.FAILED_NOTES).format(**words))
                stamps.append(end_stamp)
            if status == ESCALATED:
                casedoc.change_status(doc, ESCALATED, note=rng.choice(v.ESCALATE_NOTES))
                stamps.append(end_stamp)
        elif status == CLOSED and closed_on is not None:
            if amdoc.get_str(doc, "status") == REGISTERED:
                casedoc.log_session(doc, date=created.isoformat(), participants=mediator,
                                    summary="首次调解：听取双方陈述。", by=mediator)
                session_stamps.append(max(self.ts(created), opened))
                stamps.append(session_stamps[-1])
            path = rng.random()
            if path < 0.74:
                casedoc.close_case(doc, agreement=scenario.agreement.format(**words),
                                   on=closed_on)
                stamps += [end_stamp, end_stamp]
            else:
                casedoc.change_status(doc, FAILED,
                                      note=rng.choice(v.FAILED_NOTES).format(**words))
                stamps.append(end_stamp)
                if path < 0.87:
                    casedoc.close_case(doc, note=rng.choice(v.CLOSE_FAILED_NOTES), on=closed_on)
                else:
                    casedoc.change_status(doc, ESCALATED, note=rng.choice(v.ESCALATE_NOTES))
                    casedoc.close_case(doc, note=rng.choice(v.CLOSE_ESCALATED_NOTES),
                                       on=closed_on)
                    stamps.append(end_stamp)
                stamps.append(end_stamp)
            self._visits(doc, closed_on)
        _retime(doc, "history", stamps)
        _retime(doc, "sessions", session_stamps)
        return doc, status, closed_on

    def _visits(self, doc: Document, closed_on: dt.date) -> None:
        rng = self.rng
        for month in FOLLOWUP_MONTHS:
            due = add_months(closed_on, month)
            if due > self.today or rng.random() < 0.07:
                continue
            visit = min(self.today, due + dt.timedelta(days=rng.randint(-3, 12)))
            sat = rng.choices((5, 4, 3, 2, 1), weights=(45, 32, 13, 7, 3))[0]
            casedoc.record_followup(doc, month, done=visit.isoformat(),
                                    outcome=rng.choice(self.v.FOLLOWUP_OUTCOMES[sat]),
                                    satisfaction=sat, by=rng.choice(self.v.MEDIATORS))


def _spread(rng: random.Random, n: int, today: dt.date, days: int = 364) -> Iterator[dt.date]:
    """``n`` registration days over the last ``days`` days, with the seasons' weights."""
    candidates = [today - dt.timedelta(days=d) for d in range(days)]
    weights = [SEASON[c.month] * (0.35 if c.weekday() == 6 else 1.0) for c in candidates]
    return iter(rng.choices(candidates, weights=weights, k=n))


def default_spikes(codes: list[str]) -> list[Spike]:
    pick = codes[1:] or codes
    return [
        Spike(pick[2 % len(pick)], "labour", 0, 7),      # this week
        Spike(pick[5 % len(pick)], "land", 1, 8),        # last week
        Spike(pick[9 % len(pick)], "loan", 13, 7),       # a quarter ago
    ]


async def build_county(home: RelayHome, vocab: ModuleType, *, villages: int = 24,
                       cases: tuple[int, int] = (60, 220), seed: int = 11,
                       today: dt.date | None = None, county: str = COUNTY,
                       spikes: list[Spike] | None = None, users: bool = True,
                       run_warnings: bool = True,
                       progress: Callable[[int, int], None] | None = None) -> DemoCounty:
    """Create (or fill) the relay home at ``home`` with a demo county; returns what it made.

    ``cases`` is the range of cases a village registers in a year."""
    rng = random.Random(seed)
    today = today or dt.datetime.now(TZ).date()
    clock = min(dt.datetime.now(TZ), dt.datetime.combine(today, dt.time(23, 59), TZ))
    if not home.exists():
        home.init(county, host="127.0.0.1")
    county = home.load().county
    vs = village_list(villages)
    codes = [c for c, _ in vs]
    spikes = default_spikes(codes) if spikes is None else spikes
    demo = DemoCounty(home, county, vs, spikes=spikes,
                      group_village=codes[min(len(codes) - 1, 7)])
    counts = {"villages": len(vs), "cases": 0, "consultations": 0, "answered": 0,
              "screenings": 0, "content": 0}
    busy = {s.village for s in spikes} | {demo.group_village}
    seen = _sync_times(codes, busy, clock, random.Random(seed + 1))
    store = await home.open_store()
    try:
        batch = _Batch(store)
        for i, (code, name) in enumerate(vs):
            # A village's data ends at its last sync: the relay holds nothing newer; a
            # village that never synced has only the profile the county registered.
            n = rng.randint(*cases)
            await _village(batch, CaseMaker(vocab, county, rng, today, seen[code] or clock, clock),
                           code, name, n if seen[code] else 0,
                           [s for s in spikes if s.village == code],
                           code == demo.group_village, counts, synced=seen[code] is not None)
            if progress is not None:
                progress(i + 1, len(vs))
        for title, topic, content_kind, summary in vocab.CONTENT_ITEMS:
            doc = Document()
            kinds.new_content(doc, title=title, topic=topic, content_kind=content_kind,
                              summary=summary, body=f"{summary}\n\n（县人民法院供稿。）",
                              by=vocab.JUDGE)
            await batch.add(f"content-{county}-{counts['content']}", CONTENT,
                            records.county_scope(county), doc)
            counts["content"] += 1
        await batch.flush()
        if run_warnings:
            await _warnings_history(store, county, today, spikes)
        await _last_seen(store, county, seen, rng)
    finally:
        await store.close()
    if users:
        accounts = AccountStore(home.accounts_location())
        try:
            for name, role, display, password in DEMO_USERS:
                if accounts.get(name) is None:
                    accounts.add(name, role, password, display=display)
        finally:
            accounts.close()
    demo.counts = counts
    return demo


async def _village(batch: _Batch, maker: CaseMaker, code: str, name: str, n: int,
                   spikes: list[Spike], group_here: bool, counts: dict[str, int], *,
                   synced: bool = True) -> None:
    rng, v, today = maker.rng, maker.v, maker.today
    scope = records.village_scope(maker.county, code)
    doc = Document()
    kinds.new_village(doc, code=code, name=name, county=maker.county,
                      director=rng.choice(v.MEDIATORS))
    await batch.add(f"village-{maker.county}-{code}", VILLAGE, scope, doc)
    if not synced:
        return
    weights = v.CATEGORY_WEIGHTS
    plan: list[tuple[str, dt.date, bool | None, int | None]] = [
        (rng.choices(list(weights), weights=list(weights.values()))[0], day, None, None)
        for day in _spread(rng, n, today)]
    for s in spikes:
        monday = week_start(today) - dt.timedelta(weeks=s.weeks_ago)
        last = min(today, monday + dt.timedelta(days=6))
        if last < monday:
            continue
        for _ in range(s.extra):
            day = monday + dt.timedelta(days=rng.randint(0, (last - monday).days))
            plan.append((s.category, day, False, 0))
    if group_here:
        plan.append(("environment", today, True, 64))
    plan.sort(key=lambda p: p[1])
    candidates: list[tuple[str, str, str, dt.date]] = []
    for k, (category, day, group, heads) in enumerate(plan, start=1):
        number = f"{code}-DM-{k:04d}"
        doc, status, _ = maker.case(code, number, category, day, group=group, headcount=heads)
        doc_id = f"case-{maker.county}-{code}-{k:04d}"
        await batch.add(doc_id, CASE, scope, doc)
        counts["cases"] += 1
        if status in (MEDIATING, FAILED, ESCALATED) or (status == CLOSED and rng.random() < 0.04):
            candidates.append((doc_id, number, category, day))
    # Questions to the linked judge: about one case in fifteen; recent ones may wait.
    picked = rng.sample(candidates, min(len(candidates), max(2, n // 15)))
    for j, (case_id, number, category, day) in enumerate(picked):
        asked_day = min(today, day + dt.timedelta(days=rng.randint(1, 20)))
        age = (today - asked_day).days
        answered = age > 12 or (j > 0 and rng.random() < 0.6)
        doc = Document()
        kinds.new_consultation(doc, case_id=case_id, case_number=number,
                               question=v.CONSULT_QUESTIONS[category], by=f"{code} 庭务主任")
        asked = maker.ts(asked_day)
        with doc.transaction() as tx:
            amdoc.put(tx, ROOT, "asked_at", asked)
        # The judge answers at the relay, hours to days later (after the village's last
        # sync, too: the village gets it next time); an answer still to come waits.
        hours = rng.choice((2, 5, 20, 26, 49, 72, 120, 200))
        at = dt.datetime.fromisoformat(asked) + dt.timedelta(hours=hours,
                                                             minutes=rng.randrange(60))
        if answered and at <= maker.clock:
            kinds.answer_consultation(doc, answer=v.JUDGE_ANSWERS[category], by=v.JUDGE)
            with doc.transaction() as tx:
                amdoc.put(tx, ROOT, "answered_at", at.isoformat(timespec="seconds"))
            counts["answered"] += 1
        await batch.add(f"consult-{maker.county}-{code}-{j:03d}", CONSULTATION, scope, doc)
        counts["consultations"] += 1
    # 普法 screenings: about one a month.
    titles = [c[0] for c in v.CONTENT_ITEMS]
    for j in range(rng.randint(6, 14)):
        held = today - dt.timedelta(days=rng.randint(1, 360))
        doc = Document()
        kinds.new_screening(doc, date=held.isoformat(),
                            place=rng.choice(v.SCREENING_PLACES).format(village=name),
                            items=rng.sample(titles, rng.randint(1, 3)),
                            attendance=rng.randint(25, 160), notes="联系法官现场以案说法",
                            by=f"{code} 庭务主任")
        await batch.add(f"screening-{maker.county}-{code}-{j:03d}", SCREENING, scope, doc)
        counts["screenings"] += 1


async def _warnings_history(store: DocumentStore, county: str, today: dt.date,
                            spikes: list[Spike]) -> None:
    """Run the warning pass over the past weeks so older spikes raised (and an operator
    handled) their warnings, then over today."""
    from .warning_pass import ACKNOWLEDGED, act_on_warning

    wp = WarningPass(store, county, WarningConfig())
    oldest = max((s.weeks_ago for s in spikes), default=0)
    for weeks_ago in range(oldest, 1, -1):
        report = await wp.run(today=week_start(today) - dt.timedelta(weeks=weeks_ago - 1,
                                                                     days=1))
        for sig in report.signals:
            for doc_id in await store.views.warnings(status="open", village=sig.village,
                                                     category=sig.category):
                await store.edit(doc_id, lambda d: act_on_warning(
                    d, status=ACKNOWLEDGED, note="已转网格员上门走访，情况已掌握。",
                    by="县法院预警中心 刘科长"))
    await wp.run(today=today)


def _sync_times(codes: list[str], busy: set[str], now: dt.datetime,
                rng: random.Random) -> dict[str, dt.datetime | None]:
    """When each village's node last synced: most within the last hours, every seventh
    days ago (stale), the last one never (None). The villages with this week's spikes
    synced minutes ago, so their new cases are there."""
    out: dict[str, dt.datetime | None] = {}
    for i, code in enumerate(codes):
        if i == len(codes) - 1 and len(codes) > 3:
            out[code] = None
        elif code in busy:
            out[code] = now - dt.timedelta(minutes=rng.randint(2, 30))
        elif i % 7 == 6:
            out[code] = now - dt.timedelta(days=rng.randint(4, 20), hours=rng.randint(0, 23))
        else:
            out[code] = now - dt.timedelta(minutes=rng.randint(2, 60 * 30))
    return out


async def _last_seen(store: DocumentStore, county: str, seen: dict[str, dt.datetime | None],
                     rng: random.Random) -> None:
    """Write each village's last sync (``_sync_times``) into the relay's peers, as the
    sync driver does when a node connects (the demo has no real nodes)."""
    for code, at in seen.items():
        if at is None:
            continue  # never synced
        node_id = f"{rng.getrandbits(64):016x}"
        await store.record_peer(
            f"demo-{county}-{code}", label=f"director:{county}/{code}:{node_id}",
            seen_at=at.astimezone(dt.timezone.utc).isoformat(timespec="milliseconds"))


def describe(demo: DemoCounty) -> dict[str, Any]:
    return {"county": demo.county, "home": str(demo.home.path), **demo.counts,
            "spikes": [s.__dict__ for s in demo.spikes], "group_village": demo.group_village}


__all__ = ["CATEGORIES", "DEMO_USERS", "DemoCounty", "Spike", "build_county", "describe",
           "serve_demo", "village_list"]


async def serve_demo(path: Path, vocab: ModuleType, *, host: str = "127.0.0.1",
                     port: int = 8765, villages: int = 24, out: Callable[[str], None] = print,
                     ) -> None:
    """Build the demo county at ``path`` (once), then serve it until cancelled: plain HTTP
    on ``host`` (a demo on one machine; a real relay serves TLS)."""
    from .app import start

    home = RelayHome(path)
    if not home.exists() or not (path / "accounts.db").exists():
        out(f"building a demo county of {villages} villages in {path} (about a minute) ...")

        def progress(i: int, n: int) -> None:
            if i % 6 == 0 or i == n:
                out(f"  {i}/{n} villages")

        demo = await build_county(home, vocab, villages=villages, progress=progress)
        out(f"  {demo.counts['cases']} cases, {demo.counts['consultations']} consultations, "
            f"{demo.counts['screenings']} screenings")
    relay = await start(home, host, port, tls=False)
    try:
        shown = "127.0.0.1" if host in ("0.0.0.0", "") else host
        out("")
        out(f"county dashboard: http://{shown}:{relay.port}/dashboard/")
        out("demo logins (for this demo only):")
        for name, role, display, password in DEMO_USERS:
            out(f"    {role:9} {name:9} password {password:20} ({display})")
        out(f"village nodes sync with: ws://{shown}:{relay.port}/v1/sync")
        out("Ctrl+C stops the relay; the data stays in " + str(path))
        await asyncio.Event().wait()
    finally:
        await relay.stop()
