"""``villagecourt relay doctor``: is this relay healthy? Each check says in plain words, in
Chinese or English, what it found and what to do (docs/operations.md, "Doctor").

Checks: the configuration; the database (reachable, schema version, store id, how many
documents; for store.db the file's and the WAL's size, for PostgreSQL the server's
version); free disk in the relay home; the county CA's and the relay's certificate (days
left); the port (the relay running, or the port free for it). Exit 1 when a check fails.
A database URL is shown with its password masked.
"""

from __future__ import annotations

import datetime as dt
import shutil
from dataclasses import dataclass

from store import StoreError
from store.health import health
from store.location import describe

from .config import RelayConfig, RelayConfigError, RelayHome
from .migrate_store import relay_answers

OK, WARN, FAIL = "ok", "warn", "fail"
CERT_WARN_DAYS = 30
DISK_WARN_BYTES = 1024 ** 3
WAL_WARN_BYTES = 256 * 1024 ** 2  # a WAL this big means checkpoints cannot keep up


@dataclass
class Check:
    name: str
    status: str
    zh: str
    en: str

    def text(self, lang: str) -> str:
        return self.zh if lang == "zh" else self.en


def _mb(n: int) -> str:
    return f"{n / 1024 ** 2:.1f} MB"


async def check_database(home: RelayHome, cfg: RelayConfig) -> Check:
    where = describe(home.store_location(cfg))
    try:
        store = await home.open_store(cfg)
    except StoreError as exc:
        return Check("database", FAIL, f"打不开数据库 {where}：{exc}（代码 {exc.code}）。",
                     f"Cannot open the database {where}: {exc} (code {exc.code}).")
    try:
        h = await health(store)
    except StoreError as exc:
        return Check("database", FAIL, f"数据库 {where} 读不出来：{exc}。",
                     f"The database {where} cannot be read: {exc}.")
    finally:
        await store.close()
    base_zh = (f"数据库 {where}：结构版本 {h.schema}（本程序 {h.schema_known}），"
               f"库编号 {h.store_id}，记录 {h.documents} 条")
    base_en = (f"Database {where}: schema {h.schema} (this program {h.schema_known}), "
               f"store id {h.store_id}, {h.documents} records")
    if h.backend == "postgresql":
        return Check("database", OK, f"{base_zh}，PostgreSQL {h.server_version}。",
                     f"{base_en}, PostgreSQL {h.server_version}.")
    zh = f"{base_zh}，文件 {_mb(h.file_bytes)}，WAL {_mb(h.wal_bytes)}"
    en = f"{base_en}, file {_mb(h.file_bytes)}, WAL {_mb(h.wal_bytes)}"
    if h.wal_bytes > WAL_WARN_BYTES:
        return Check("database", WARN, f"{zh}。WAL 过大：请在空闲时重启中继。",
                     f"{en}. The WAL is large: restart the relay when it is quiet.")
    return Check("database", OK, zh + "。", en + ".")


def check_disk(home: RelayHome) -> Check:
    free = shutil.disk_usage(home.path).free
    if free < DISK_WARN_BYTES:
        return Check("disk", WARN, f"中继目录所在磁盘只剩 {_mb(free)}，请尽快清理或扩容。",
                     f"Only {_mb(free)} free on the relay home's disk: free some space.")
    return Check("disk", OK, f"磁盘剩余 {free / 1024 ** 3:.1f} GB。",
                 f"{free / 1024 ** 3:.1f} GB free on disk.")


def check_certificates(home: RelayHome, now: dt.datetime) -> list[Check]:
    from .ca import load_cert

    out = []
    ca = home.ca
    for name, path, zh_name, en_name in (("ca", ca.ca_cert_file, "县证书机构（CA）", "county CA"),
                                         ("relay_cert", ca.relay_cert_file, "中继证书",
                                          "relay certificate")):
        try:
            cert = load_cert(path)
        except (OSError, ValueError) as exc:
            out.append(Check(name, FAIL, f"读不出{zh_name} {path}：{exc}。",
                             f"Cannot read the {en_name} {path}: {exc}."))
            continue
        end = cert.not_valid_after_utc
        left = int((end - now).total_seconds() // 86400)
        if end < now:
            out.append(Check(name, FAIL, f"{zh_name}已于 {end:%Y-%m-%d} 过期：节点无法同步。",
                             f"The {en_name} expired on {end:%Y-%m-%d}: nodes cannot sync."))
        elif left < CERT_WARN_DAYS:
            out.append(Check(name, WARN, f"{zh_name}还有 {left} 天过期（{end:%Y-%m-%d}），请更新。",
                             f"The {en_name} expires in {left} days ({end:%Y-%m-%d}): "
                             "renew it."))
        else:
            out.append(Check(name, OK, f"{zh_name}有效，还有 {left} 天。",
                             f"The {en_name} is valid for {left} more days."))
    return out


def check_port(home: RelayHome, cfg: RelayConfig) -> Check:
    try:
        with home.lock("doctor"):
            running = False
    except RelayConfigError:
        running = True
    answers = relay_answers(cfg.host, cfg.port)
    if running and answers:
        return Check("port", OK, f"中继正在运行，端口 {cfg.port} 有应答。",
                     f"The relay is running and answers on port {cfg.port}.")
    if running:
        return Check("port", WARN, f"中继在运行，但端口 {cfg.port} 没有应答（可能用 --port "
                     "换了端口，或还在启动）。",
                     f"The relay runs but nothing answers on port {cfg.port} (started with "
                     "another --port, or still starting).")
    if answers:
        return Check("port", WARN, f"中继没有运行，但端口 {cfg.port} 已被别的程序占用："
                     "中继将无法启动。",
                     f"The relay is not running but another program uses port {cfg.port}: "
                     "the relay could not start.")
    return Check("port", OK, f"中继没有运行；端口 {cfg.port} 空闲，可以启动。",
                 f"The relay is not running; port {cfg.port} is free for it.")


async def run_checks(home: RelayHome, now: dt.datetime | None = None) -> list[Check]:
    now = now or dt.datetime.now(dt.timezone.utc)
    try:
        cfg = home.load()
    except RelayConfigError as exc:
        return [Check("config", FAIL, f"中继配置有问题：{exc}", f"Relay configuration: {exc}")]
    checks = [Check("config", OK, f"县 {cfg.county} 的中继（{cfg.relay_id}），目录 {home.path}。",
                    f"Relay {cfg.relay_id} of county {cfg.county} at {home.path}.")]
    checks.append(await check_database(home, cfg))
    checks.append(check_disk(home))
    checks += check_certificates(home, now)
    checks.append(check_port(home, cfg))
    return checks
