"""Messages of the relay's commands (``villagecourt relay ...``), in Chinese and English.

The county's technicians and operators read Chinese: it is the default; ``--lang en`` (or
$VILLAGECOURT_LANG=en) gives English. One command's output is in one language. The relay
does not import node, so its command messages live here (node/i18n.py has the node's).
``tests/relay/test_cli_lang.py`` checks both languages have the same keys and placeholders.
"""

from __future__ import annotations

import argparse
import os
from typing import Any

LANGUAGES = ("zh", "en")
DEFAULT = "zh"

MESSAGES: dict[str, dict[str, str]] = {
    "zh": {
        "mig_start": "开始把中继 {home} 的数据库迁到 {store}（中继须已停止）……",
        "mig_progress": "  {what}：{done}/{total}",
        "mig_meta": "库信息",
        "mig_docs": "记录",
        "mig_doc_tail": "记录的增量",
        "mig_records": "索引",
        "mig_followups": "回访",
        "mig_peers": "同步检查点",
        "mig_counters": "计数器（案件编号）",
        "mig_sync_log": "同步日志",
        "mig_check": "校验记录",
        "mig_users": "看板账号",
        "mig_failures": "登录失败记录",
        "mig_audit": "审计日志",
        "mig_session_reset": "注销记录",
        "mig_verified": "校验通过：记录 {documents} 条（原库 {documents_source} 条），"
                        "头部一致 {heads_equal} 条，同步检查点 {checkpoints} 个，"
                        "计数器 {counters} 个，同步日志 {sync_log} 条，"
                        "看板账号 {accounts_users} 个，审计日志 {accounts_audit} 条。",
        "mig_done": "config.json 已改为使用 {store}。原文件 {sqlite_left} 保留不动"
                    "（其中还有媒体文件的索引；要退回，把 config.json 的 store 改为空）。",
        "relay_locked": "中继正在运行（{what}）：请先停止中继，再迁移。",
        "relay_running": "端口 {port} 上有程序在应答：请先停止中继，再迁移。",
        "already_migrated": "中继的数据已经在 {store} 中，无需再迁移。",
        "dest_not_empty": "{store} 里已有另一个库的数据：请换一个空数据库。",
        "accounts_not_empty": "{store} 里已有别的看板账号或审计日志（{tables}），与 "
                              "accounts.db 不同：不能覆盖。请换一个空数据库。",
        "dest_ahead": "{store} 里有比 store.db 更新的数据（中继曾用它运行过）：不能覆盖。"
                      "请把 config.json 的 store 改回这个数据库。",
        "verify_failed": "校验发现 {count} 处不一致（第一处：{first}）；config.json 没有改动，"
                         "中继仍使用原来的 store.db。",
        "init_done": "已为县 {county} 创建中继：目录 {home}（编号 {relay_id}）",
        "init_no_url": "提示：没有给出 --url。制作登记文件时需要 --url；联网登记的节点会使用"
                       "它们连上中继时的地址。",
        "serve_listening": "县 {county} 的中继已启动，监听 {host}:{port}"
                           "（健康检查：{scheme}://{host}:{port}/healthz；"
                           "同时最多 {max} 个同步会话）。它在前台运行，按 Ctrl+C 停止。",
        "serve_insecure": "警告：--insecure 不使用 TLS 和证书，只能在一台电脑上演示用。",
        "serve_max": "relay serve：--max-sessions 至少为 1。",
        "serve_port_taken": "端口 {port} 已被占用（{reason}）：中继没有启动。"
                            "请用 --port 换一个端口，或先停止占用它的程序。",
        "token_done": "村 {village}（县 {county}）{role}的登记码，只能用一次，{expires} 前有效：",
        "token_next": "在新电脑上运行：villagecourt provision --relay {where} --token {code}",
        "enrol_no_url": "relay enrol-file：请用 --url wss://中继地址:端口/v1/sync 给出村里能连上的"
                        "地址，或用“relay init --url”设置一次。",
        "enrol_done": "登记文件已写入 {out}，用于村 {village} 的{role}。",
        "enrol_code": "请把下面的登记码与文件分开交给技术员：",
        "enrol_next": "在新电脑上运行：villagecourt provision --file {out} --code {code}",
        "revoked": "节点 {node} 已吊销（吊销名单第 {version} 版）：中继从现在起拒绝它，"
                   "各节点同步后也会拒绝它。",
        "role_director": "调解主任",
        "role_judge": "联系法官",
        "role_operator": "县里操作员",
        "user_added": "已添加用户 {name}（{role}{display}）",
        "user_exists": "用户 {name} 已存在",
        "no_users": "还没有用户：villagecourt relay user add 用户名 --role operator|judge",
        "user_disabled": "用户 {name} 已停用并已退出登录",
        "user_enabled": "用户 {name} 已启用",
        "user_passwd": "{name} 的密码已修改，其登录已全部结束",
        "password_prompt": "密码（至少 {n} 个字符）：",
        "password_again": "再输入一次：",
        "col_name": "用户名",
        "col_role": "角色",
        "col_state": "状态",
        "col_login": "上次登录",
        "col_display": "显示名",
        "active": "正常",
        "disabled": "已停用",
        "no_audit": "审计日志里还没有记录。",
        "no_file": "找不到文件：{path}",
        "published": "已发布 {id}：{title}（{n} 个文件）。各村下次同步时收到，媒体在记录之后下载。",
        "content_state_published": "已发布",
        "content_state_withdrawn": "已撤回",
        "content_row": "{id}  {state}  {kind}  {topic}  {title}  [{n} 个文件，{bytes} 字节]",
        "no_content": "还没有发布任何普法内容。",
        "withdrawn": "已撤回 {id}：各村下次同步时它会从列表中消失。",
        "not_content": "{id} 不是普法内容。",
        "not_found": "找不到 {ref}。",
        "cases_shown": "共 {count} 件，显示第 {first}–{last} 件",
        "cases_more": "还有更多：用 --page {next} 看下一页，或 --all 看全部。",
        "no_cases": "中继上没有符合条件的案件。",
        "case_village": "村：{village}",
        "case_sealed": "当事人：{n} 位（姓名、电话、身份证号已加密保存，中继的命令行不解密）",
        "case_sessions": "调解次数：{n}",
        "case_followups": "回访：{done}/{total} 次已完成",
        "col_village": "村",
        "col_number": "案号",
        "col_status": "状态",
        "col_category": "类型",
        "col_updated": "更新",
        "col_title": "标题",
        "error": "错误",
        "no_relay": "这里还没有中继：请先运行 villagecourt relay init --county 县代码",
        "bad_relay_config": "中继配置文件已损坏：{path}",
        "relay_exists": "这里已经有一个中继：{path}",
        "bad_location": "数据库地址应写成 postgresql://用户@主机:端口/数据库名，而不是 {location}",
        "store_io": "连不上中继的数据库 {database}（服务器没开、地址不对，或网络断了）。",
        "store_readonly": "中继的数据库 {database} 不让写入（用户没有权限，或只读）。",
        "not_a_store": "数据库 {database} 不是本系统的中继数据库，或还没有建好。",
        "newer_schema": "中继的数据库由更新版本的 villagecourt 写过，请先升级本程序。",
        "store_locked": "中继的数据库正被其他程序占用，请稍后再试。",
        "init_store": "文档存放在数据库 {store}",
        "bad_duration": "有效期写法不对：例如 30m、24h、7d。",
        "bad_code": "代码“{value}”只能包含字母、数字、- 或 _（最多32位）。",
        "account_error": "账号操作失败：{reason}",
        "bad_user_name": "用户名应为2到32个字母、数字、“.”、“-”或“_”。",
        "bad_user_role": "角色只能是 operator（县里操作员）或 judge（联系法官）。",
        "weak_password": "密码至少需要 {n} 个字符。",
        "no_user": "没有用户 {name}。",
        "password_mismatch": "两次输入的密码不一致。",
    },
    "en": {
        "mig_start": "moving the store of the relay at {home} to {store} (the relay must "
                     "be stopped)...",
        "mig_progress": "  {what}: {done} of {total}",
        "mig_meta": "store information",
        "mig_docs": "records",
        "mig_doc_tail": "record increments",
        "mig_records": "index",
        "mig_followups": "follow-up visits",
        "mig_peers": "sync checkpoints",
        "mig_counters": "counters (case numbers)",
        "mig_sync_log": "sync log",
        "mig_check": "checking records",
        "mig_users": "dashboard accounts",
        "mig_failures": "failed logins",
        "mig_audit": "audit log",
        "mig_session_reset": "sessions ended",
        "mig_verified": "verified: {documents} records (source {documents_source}), "
                        "{heads_equal} with equal heads, {checkpoints} sync checkpoints, "
                        "{counters} counters, {sync_log} sync log entries, "
                        "{accounts_users} dashboard accounts, {accounts_audit} audit "
                        "entries.",
        "mig_done": "config.json now uses {store}. The file {sqlite_left} is left in place "
                    "(it also holds the media files' index; to go back, set store to "
                    "\"\" in config.json).",
        "relay_locked": "the relay is running ({what}): stop it before migrating.",
        "relay_running": "something answers on port {port}: stop the relay before "
                         "migrating.",
        "already_migrated": "the relay's store is already in {store}; nothing to migrate.",
        "dest_not_empty": "{store} already holds another store: use an empty database.",
        "accounts_not_empty": "{store} already holds other dashboard accounts or an audit "
                              "log ({tables}), not those of accounts.db: they are not "
                              "overwritten. Use an empty database.",
        "dest_ahead": "{store} holds newer changes than store.db (the relay ran on it): "
                      "it is not overwritten. Set store in config.json back to it.",
        "verify_failed": "verification found {count} differences (first: {first}); config.json "
                         "is unchanged and the relay still uses store.db.",
        "init_done": "relay for county {county} created at {home} (id {relay_id})",
        "init_no_url": "note: no --url given; enrolment files will need --url, and nodes "
                       "enrolled online will use the address they reached the relay by",
        "serve_listening": "relay for county {county} listening on {host}:{port} "
                           "(health: {scheme}://{host}:{port}/healthz; at most {max} sync "
                           "sessions at once). It runs in the foreground; Ctrl+C stops it.",
        "serve_insecure": "WARNING: --insecure: no TLS and no certificates; for a demo on one "
                          "machine only",
        "serve_max": "relay serve: --max-sessions must be at least 1",
        "serve_port_taken": "port {port} is taken ({reason}): the relay did not start. Give "
                            "another with --port, or stop the program holding it.",
        "token_done": "enrolment code for a {role} of village {village} (county {county}), "
                      "valid once until {expires}:",
        "token_next": "on the new machine: villagecourt provision --relay {where} --token {code}",
        "enrol_no_url": "relay enrol-file: give --url wss://RELAY_ADDRESS:PORT/v1/sync (the "
                        "address the village will reach), or set it once with "
                        "'relay init --url'",
        "enrol_done": "enrolment file written to {out} for a {role} of village {village}.",
        "enrol_code": "give the technician this code separately from the file:",
        "enrol_next": "on the new machine: villagecourt provision --file {out} --code {code}",
        "revoked": "node {node} revoked (revocation list version {version}); the relay refuses "
                   "it from now on, and every node once it has synced.",
        "role_director": "director",
        "role_judge": "judge",
        "role_operator": "operator",
        "user_added": "user {name} added ({role}{display})",
        "user_exists": "user {name} already exists",
        "no_users": "no users yet: villagecourt relay user add NAME --role operator|judge",
        "user_disabled": "user {name} disabled and logged out",
        "user_enabled": "user {name} enabled",
        "user_passwd": "password of {name} changed; their sessions have ended",
        "password_prompt": "password (at least {n} characters): ",
        "password_again": "again: ",
        "col_name": "name",
        "col_role": "role",
        "col_state": "state",
        "col_login": "last login",
        "col_display": "display",
        "active": "active",
        "disabled": "disabled",
        "no_audit": "the audit log is empty.",
        "no_file": "no such file: {path}",
        "published": "published {id}: {title} ({n} file(s)); villages receive it at their next "
                     "sync, media after the records",
        "content_state_published": "published",
        "content_state_withdrawn": "withdrawn",
        "content_row": "{id}  {state}  {kind}  {topic}  {title}  [{n} file(s), {bytes} bytes]",
        "no_content": "no legal-education content published yet.",
        "withdrawn": "withdrawn {id}: it leaves every village's list at its next sync",
        "not_content": "{id} is not a content item.",
        "not_found": "no record {ref}.",
        "cases_shown": "{count} cases, showing {first}-{last}",
        "cases_more": "more: --page {next} for the next page, or --all for every one.",
        "no_cases": "no cases at the relay match.",
        "case_village": "village: {village}",
        "case_sealed": "parties: {n} (names, phones and ID numbers are stored sealed; the "
                       "relay's command line does not open them)",
        "case_sessions": "mediation sessions: {n}",
        "case_followups": "follow-ups: {done}/{total} done",
        "col_village": "village",
        "col_number": "number",
        "col_status": "status",
        "col_category": "category",
        "col_updated": "updated",
        "col_title": "title",
        "error": "error",
        "no_relay": "no relay here: first run villagecourt relay init --county CODE",
        "bad_relay_config": "the relay's configuration file is damaged: {path}",
        "relay_exists": "a relay already exists here: {path}",
        "bad_location": "a database is given as postgresql://USER@HOST:PORT/DATABASE, "
                        "not {location}",
        "store_io": "cannot reach the relay's database {database} (the server is down, the "
                    "address is wrong, or the network is cut).",
        "store_readonly": "the relay's database {database} refuses writes (the user lacks "
                          "the rights, or it is read-only).",
        "not_a_store": "database {database} is not a villagecourt relay database, or not "
                       "set up yet.",
        "newer_schema": "the relay's database was written by a newer villagecourt: upgrade "
                        "this program first.",
        "store_locked": "the relay's database is busy with another program; try again "
                        "shortly.",
        "init_store": "documents are kept in the database {store}",
        "bad_duration": "durations are written like 30m, 24h, 7d.",
        "bad_code": "code \"{value}\" may hold letters, digits, - or _ (at most 32).",
        "account_error": "account change failed: {reason}",
        "bad_user_name": "a user name is 2-32 letters, digits, '.', '-' or '_'.",
        "bad_user_role": "the role is operator or judge.",
        "weak_password": "a password needs at least {n} characters.",
        "no_user": "no user {name}.",
        "password_mismatch": "the two passwords differ.",
    },
}


def lang_of(args: argparse.Namespace) -> str:
    """``--lang``, else $VILLAGECOURT_LANG, else Chinese."""
    chosen = getattr(args, "lang", None)
    if chosen in LANGUAGES:
        return str(chosen)
    env = os.environ.get("VILLAGECOURT_LANG", "")
    return env if env in LANGUAGES else DEFAULT


def t(lang: str, key: str, **values: Any) -> str:
    table = MESSAGES.get(lang) or MESSAGES[DEFAULT]
    template = table.get(key) or MESSAGES["en"].get(key) or key
    try:
        return template.format(**values)
    except (KeyError, IndexError):
        return template


# Error codes of the relay's modules whose message key here differs from the code.
_ERROR_KEYS = {"bad_config": "bad_relay_config"}


def error_text(lang: str, exc: BaseException, **values: Any) -> str:
    """One line for an error with a ``code`` (RelayConfigError, EnrolError, AccountError,
    the store's errors), in ``lang``; its English message when the code is not
    one of ours (the log keeps the details either way)."""
    code = str(getattr(exc, "code", "") or "")
    key = _ERROR_KEYS.get(code, code)
    if key and key in MESSAGES["en"]:
        details = dict(getattr(exc, "details", {}) or {})
        return t(lang, key, **{**details, **values})
    return str(exc)


def role(lang: str, code: str) -> str:
    return t(lang, f"role_{code}") if f"role_{code}" in MESSAGES["en"] else code


def add_lang(parser: argparse.ArgumentParser) -> None:
    """``--lang zh|en`` on one of the relay's commands (it may also come before the command:
    ``villagecourt --lang en relay ...``)."""
    parser.add_argument("--lang", choices=LANGUAGES, default=argparse.SUPPRESS,
                        help="language of the output: zh (default) or en")


__all__ = ["LANGUAGES", "MESSAGES", "add_lang", "error_text", "lang_of", "role", "t"]
