"""``villagecourt doctor``: is this node healthy? Each check says in plain words what it
found and what to do about it.

Checks: the certificate (valid, days left), the relay (reachable, clock skew against it),
the store (SQLite integrity, every record loads), free disk, and the home's permissions
(folders 0700, files 0600: which path is looser and the command that fixes it).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import email.utils
import shlex
import shutil
import time
from dataclasses import dataclass
from typing import Callable

import aiohttp

from store.files import loose_paths

from . import i18n
from .identity import days_left, keys_of, relay_urls
from .node import Node

CERT_WARN_DAYS = 30
SKEW_WARN_S = 300  # certificates tolerate 5 minutes; beyond that sync may be refused
DISK_WARN_BYTES = 500 * 1024 * 1024
REACH_TIMEOUT_S = 10.0

OK, WARN, FAIL = "ok", "warn", "fail"


@dataclass
class Check:
    name: str
    status: str
    zh: str
    en: str

    def text(self, lang: str) -> str:
        return self.zh if lang == "zh" else self.en


def check_certificate(node: Node, now: dt.datetime) -> Check:
    keys = keys_of(node.home)
    if not keys.provisioned():
        return Check("certificate", WARN,
                     "本节点还没有证书，只能离线工作或与未加密的演示中继同步。请技术员运行 "
                     "villagecourt provision。",
                     "This node has no certificate: it works offline, or with an insecure demo "
                     "relay only. A technician should run villagecourt provision.")
    cert = keys.cert()
    left = days_left(cert, now)
    if left < 0:
        return Check("certificate", FAIL, f"证书已于 {cert.not_valid_after_utc:%Y-%m-%d} 过期，"
                     "无法同步。请技术员重新登记本节点。",
                     f"The certificate expired on {cert.not_valid_after_utc:%Y-%m-%d}; sync is "
                     "refused. A technician must enrol this node again.")
    if left < CERT_WARN_DAYS:
        return Check("certificate", WARN, f"证书还有 {int(left)} 天过期，请尽快联系技术员更新。",
                     f"The certificate expires in {int(left)} days; ask a technician to renew "
                     "it soon.")
    ident = keys.identity()
    return Check("certificate", OK, f"证书有效，还有 {int(left)} 天（{ident.label}）。",
                 f"Certificate valid for {int(left)} more days ({ident.label}).")


async def check_relay(node: Node) -> list[Check]:
    url = node.config.relay_url
    if not url:
        return [Check("relay", WARN, "没有设置县级中继，记录只在本地和局域网内保存。",
                      "No county relay is set: records stay on this computer and the LAN.")]
    base, _ = relay_urls(url)
    keys = keys_of(node.home)
    ssl_ctx = keys.client_context() if keys.provisioned() and base.startswith("https") else False
    started = time.monotonic()
    try:
        timeout = aiohttp.ClientTimeout(total=REACH_TIMEOUT_S)
        async with aiohttp.ClientSession(timeout=timeout) as http:
            async with http.get(f"{base}/healthz", ssl=ssl_ctx) as resp:
                date = resp.headers.get("Date")
                ok = resp.status == 200
    except (aiohttp.ClientError, TimeoutError, OSError) as exc:
        return [Check("relay", FAIL, f"连不上县级中继 {base}（{type(exc).__name__}）。检查网络；"
                      "没有网络时照常工作，恢复后会自动同步。",
                      f"Cannot reach the county relay at {base} ({type(exc).__name__}). Check "
                      "the network; work goes on offline and syncs when it is back.")]
    rtt = time.monotonic() - started
    checks = [Check("relay", OK if ok else WARN,
                    f"县级中继可以连通（{rtt * 1000:.0f} 毫秒）。",
                    f"The county relay answers ({rtt * 1000:.0f} ms).")]
    if date:
        theirs = email.utils.parsedate_to_datetime(date)
        skew = (dt.datetime.now(dt.timezone.utc) - theirs).total_seconds()
        if abs(skew) > SKEW_WARN_S:
            checks.append(Check("clock", WARN, f"本机时钟与中继相差 {skew:+.0f} 秒，请校准时间，"
                                "否则证书可能被拒绝。",
                                f"This computer's clock is {skew:+.0f} s off the relay's; set the "
                                "time, or certificates may be refused."))
        else:
            checks.append(Check("clock", OK, f"时钟准确（相差 {skew:+.0f} 秒）。",
                                f"Clock is right ({skew:+.0f} s from the relay)."))
    return checks


async def check_store(node: Node, progress: Callable[[int, int], None] | None) -> Check:
    problems = await node.store.check(progress=progress)
    count = await node.store.views.doc_count()
    if problems:
        return Check("store", FAIL, f"数据库发现 {len(problems)} 个问题：{problems[0]}。请先备份"
                     "节点目录，再联系技术员。",
                     f"The store has {len(problems)} problem(s): {problems[0]}. Back up the "
                     "node home first, then call a technician.")
    return Check("store", OK, f"数据库完好（{count} 条记录）。",
                 f"The store is intact ({count} records).")


def check_disk(node: Node) -> Check:
    free = shutil.disk_usage(node.home.path).free
    mb = free // (1024 * 1024)
    if free < DISK_WARN_BYTES:
        return Check("disk", WARN, f"磁盘只剩 {mb} MB，请清理空间。",
                     f"Only {mb} MB of disk left; free some space.")
    return Check("disk", OK, f"磁盘空间充足（{mb} MB 可用）。",
                 f"Disk space is fine ({mb} MB free).")


def _both(key: str, **values: object) -> tuple[str, str]:
    return i18n.t("zh", key, **values), i18n.t("en", key, **values)


async def check_permissions(node: Node) -> Check:
    """Anything of the home that others may read now is a failure, with its path and the
    fix; what was tightened when the node opened (an older home) is a warning."""
    home = node.home.path
    loose = await asyncio.to_thread(loose_paths, home)
    if loose:
        path, mode = loose[0]
        return Check("permissions", FAIL, *_both("doctor_perms_loose", path=path,
                                                  mode=f"{mode:04o}", count=len(loose),
                                                  home=shlex.quote(str(home))))
    if node.tightened:
        return Check("permissions", WARN, *_both("doctor_perms_tightened",
                                                  count=len(node.tightened),
                                                  path=node.tightened[0]))
    return Check("permissions", OK, *_both("doctor_perms_ok"))


async def run_checks(node: Node, *, progress: Callable[[int, int], None] | None = None
                     ) -> list[Check]:
    now = dt.datetime.now(dt.timezone.utc)
    return [check_certificate(node, now), *await check_relay(node),
            await check_store(node, progress), check_disk(node), await check_permissions(node)]
