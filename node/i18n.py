"""Messages of the command line and of errors, in Chinese (default) and English.

Keyed by stable ids; error messages are keyed by the error's ``code`` so the CLI, the TUI
and the relay say the same thing for the same cause. ``tests/node/test_i18n.py`` checks
that both languages have the same keys and the same ``{placeholders}``.
"""

from __future__ import annotations

from typing import Any

from store.records import CATEGORIES, PARTY_ROLES, STATUSES

MESSAGES: dict[str, dict[str, str]] = {
    "zh": {
        # errors (by code)
        "bad_category": "未知的纠纷类型“{value}”。可选：{allowed}",
        "bad_status": "未知的状态“{value}”。可选：{allowed}",
        "bad_transition": "案件当前为“{old}”，不能改为“{new}”。{hint}",
        "bad_transition_hint": "可以改为：{allowed}",
        "bad_transition_final": "该案件已结案，不能再改状态。",
        "bad_phone": "电话号码不正确：应为11位手机号，或带区号的固定电话。",
        "bad_id_number": "身份证号码不正确：应为18位，且校验位正确。",
        "bad_role": "当事人身份不正确：应为 申请人、被申请人 或 第三人。",
        "bad_party": "当事人信息不完整：每位当事人都需要姓名。",
        "no_parties": "请至少填写一位当事人。",
        "bad_title": "请填写简短的案件标题（不超过200字）。",
        "too_long": "内容太长了。",
        "bad_text": "文字中有无法识别的字符（不是有效的 UTF-8）。",
        "usage_not_utf8": "第 {n} 个参数不是有效的 UTF-8 文字，什么都没有保存。"
                          "请检查终端的字符编码（例如 LANG=zh_CN.UTF-8）。",
        "usage_not_utf8_option": "{option} 的内容不是有效的 UTF-8 文字，什么都没有保存。"
                                 "请检查终端的字符编码（例如 LANG=zh_CN.UTF-8）。",
        "bad_headcount": "涉及人数应为0到100000之间的整数。",
        "bad_date": "日期格式应为 年-月-日，例如 2026-03-01。",
        "bad_summary": "请简要写下本次调解的情况。",
        "bad_agreement": "请写下双方达成的调解协议内容。",
        "case_closed": "该案件已结案。",
        "bad_followup": "回访只在结案后第1、3、6个月进行。",
        "no_followup": "该案件还没有回访计划，请先结案。",
        "bad_satisfaction": "满意度应为1到5。",
        "bad_code": "代码“{value}”只能包含字母、数字、- 或 _（最多32位）。",
        "bad_field": "不能修改该项。",
        "doc_not_found": "找不到案件 {ref}。",
        "not_a_store": "这个文件不是本系统的数据库：{path}",
        "newer_schema": "数据库由更新版本的程序创建（版本 {found}），请升级本程序。",
        "store_locked": "数据库正被另一个程序使用，请稍后再试。",
        "store_full": "磁盘已满，无法保存。请清理空间后再试，已保存的记录不受影响。",
        "store_readonly": "数据库文件无法写入（只读或没有权限），请联系技术员。",
        "store_io": "读写数据库文件失败（磁盘或U盘出错），请运行“villagecourt doctor”。",
        "store_internal": "数据库出现内部错误，没有保存任何内容。请联系技术员。",
        "corrupt_doc": "有一条记录已损坏，请运行“villagecourt doctor”。",
        "no_node": "这台电脑还没有设置节点。请先运行：villagecourt init --village 代码 --name 村名",
        "node_exists": "这里已经有一个节点：{home}",
        "not_provisioned": "本机还没有证书：请先登记（villagecourt provision）。",
        "bad_config": "节点配置文件已损坏。",
        "no_store_key": "缺少数据库密钥文件，无法打开数据。",
        "bad_store_key": "数据库密钥文件已损坏。",
        "bad_language": "语言只能是 zh 或 en。",
        "bad_name": "请填写村名。",
        "no_sync": "同步服务没有运行。",
        "usage_party": "当事人格式：身份:姓名[:电话[:身份证号]]，例如 申请人:张三:13800138000",
        "error": "错误",
        # doctor: the home's permissions (store/files.py)
        "doctor_perms_ok": "节点目录只有本用户能读取（文件夹 0700，文件 0600）。",
        "doctor_perms_tightened": "节点目录中有 {count} 个文件或文件夹曾可被其他用户读取"
                                  "（例如 {path}），本次打开时已改为只有本用户能读取。",
        "doctor_perms_loose": "{path} 可被其他用户读取（权限 {mode}，共 {count} 处）。请以这些"
                              "文件的所有者运行：chmod -R go-rwx {home}；若文件属于别的用户"
                              "（曾用 sudo 运行过），先运行：sudo chown -R 本用户 {home}",
        # output
        "init_done": "已创建节点：{village_name}（{village}），县 {county}，目录 {home}",
        "case_added": "已登记案件 {number}：{title}",
        "case_saved": "已保存 {number}：{status}",
        "case_closed_done": "已结案 {number}。回访日期：{dates}",
        "session_logged": "已记录 {number} 的调解情况（共 {count} 次）",
        "followup_done": "已记录 {number} 第{month}个月回访",
        "no_cases": "没有符合条件的案件。",
        "no_due": "近期没有需要回访的案件。",
        "overdue": "逾期{days}天",
        "due_in": "{days}天后到期",
        "due_today": "今天到期",
        "cases_shown": "共 {count} 件，显示 {shown} 件",
        "cases_more": "这是第 {first}–{last} 件：用 --page {next} 看下一页，或 --all 看全部。",
        "demo_done": "示例数据已生成：{cases} 件案件。节点目录：{home}",
        "demo_progress": "正在生成示例数据",
        "stats_total": "案件总数",
        "stats_success": "调解成功率",
        "stats_followups": "按时回访率",
        "stats_satisfaction": "平均满意度",
        "stats_by_category": "按类型",
        "stats_by_status": "按状态",
        "stats_screenings": "普法放映",
        "attendance": "人次",
        "none": "无",
        "col_number": "案号",
        "col_title": "标题",
        "col_category": "类型",
        "col_status": "状态",
        "col_updated": "更新",
        "col_due": "回访日",
        "col_month": "回访",
        "parties": "当事人",
        "description": "案情",
        "sessions": "调解记录",
        "agreement": "调解协议",
        "followups": "回访",
        "timeline": "经过",
        "group_dispute": "群体性纠纷，涉及 {n} 人",
        "month_n": "第{m}个月",
        "done_on": "已于 {date} 完成",
        "tui_missing": "终端界面无法启动：{reason}",
        "usage_peer": "对等节点格式：主机:端口，例如 192.168.1.20:7457",
        "usage_sync": "没有设置县级中继。请用 --relay 地址 指定，或 --peer 主机:端口。",
        "sync_progress": "同步中：已发送 {sent} 条，已收到 {received} 条",
        "sync_ok": "已与 {peer} 同步：发送 {sent} 条，收到 {received} 条（{kb} KB，{seconds} 秒）",
        "sync_failed": "与 {peer} 同步失败：{reason}",
        "serve_listening": "同步服务已启动：局域网端口 {port}，县级中继 {relay}。按 Ctrl+C 停止。",
        "serve_peer": "发现本村节点 {peer}（{address}）",
        "serve_synced": "已与 {peer} 同步：发送 {sent} 条，收到 {received} 条",
        "edited": "修改登记",
        "serve_media": "普法视频下载：{name} {have}/{total} 块",
        "serve_media_done": "普法视频已下载 {complete} 个，还差 {pending} 个",
        "media_paused": "磁盘快满了（剩余不到 {floor} MB）：视频下载已暂停，腾出空间后会自动继续",
        "status_relay": "县级中继：{relay}",
        "status_pending": "尚未送达中继的改动：{n} 条",
        "status_last": "上次成功同步：{at}",
        "status_seen": "最近联系：{at}",
        "never": "从未",
        "connect_failed": "连接不上（网络不通或对方没有运行）。",
        "timeout": "对方长时间没有响应，连接已断开。",
        "transport_closed": "连接中断了，下次会从中断处继续。",
        "protocol_error": "对方发来的数据格式不对，已拒绝。",
        "bad_frame": "对方发来的数据格式不对，已拒绝。",
        "frame_too_large": "对方发来的数据太大，已拒绝。",
        "out_of_order": "对方发来的数据顺序不对，已拒绝。",
        "bad_document": "对方发来了一条损坏的记录，本次未保存任何内容。",
        "version_mismatch": "对方程序版本不兼容，请升级。",
        "not_authorized": "对方无权读写这些记录，已拒绝。",
        "wrong_county": "对方属于其他县，已拒绝。",
        "nothing_shared": "双方之间没有可同步的记录。",
        "peer_error": "对方结束了同步。",
        "scopes_changed": "权限已变更，请再同步一次。",
        "busy": "县里服务器繁忙，稍后自动重试。",
        "busy_retry": "县里服务器繁忙，{seconds} 秒后重试",
        "no_relay": "没有设置县级中继。",
        "usage_provision": "用法：villagecourt provision --relay 地址 --token 登记码，"
                           "或 --file 登记文件 --code 登记码",
        "provisioned": "本机已登记为节点 {node}（{role}，{county}/{village}），目录 {home}",
        "bad_token": "登记码应为16位字母和数字。",
        "unknown_token": "中继不认识这个登记码。",
        "token_used": "这个登记码已经用过了，请向县里申请新的。",
        "token_expired": "这个登记码已过期，请向县里申请新的。",
        "relay_not_proven": "中继无法证明它签发了这个登记码：地址或登记码有误，或网络被劫持。"
                            "没有发送任何内容。",
        "relay_unreachable": "连不上县级中继，请检查地址和网络。",
        "bad_enrol_file": "登记文件已损坏或无法读取。",
        "wrong_enrol_code": "登记码打不开这个登记文件。",
        "no_certificate": "对方没有出示证书，已拒绝。",
        "expired": "证书已过期，请技术员重新登记。",
        "not_yet_valid": "证书尚未生效，请检查本机时间。",
        "revoked": "该节点已被吊销，拒绝同步。",
        "bad_certificate": "证书无效。",
        "kit_done": "离线安装包已写入 {path}：{n} 个安装文件。在村里的电脑上运行：sh {script}",
        "kit_failed": "离线安装包没有做成：{reason}",
        "serve_port_taken": "局域网端口 {port} 已被占用（{reason}），改用空闲端口 {new}。",
        "serve_no_lan": "无法监听局域网端口：本村其他电脑找不到本机，只与县级中继同步。",
    },
    "en": {
        "bad_category": "Unknown dispute category \"{value}\". One of: {allowed}",
        "bad_status": "Unknown status \"{value}\". One of: {allowed}",
        "bad_transition": "The case is \"{old}\" and cannot become \"{new}\". {hint}",
        "bad_transition_hint": "It can become: {allowed}",
        "bad_transition_final": "The case is closed; its status cannot change.",
        "bad_phone": "Phone number is not valid: an 11-digit mobile or a landline with area code.",
        "bad_id_number": "ID number is not valid: 18 characters with a correct check digit.",
        "bad_role": "Party role must be applicant, respondent or third.",
        "bad_party": "Every party needs a name.",
        "no_parties": "Enter at least one party.",
        "bad_title": "Enter a short case title (at most 200 characters).",
        "too_long": "The text is too long.",
        "bad_text": "The text holds characters that are not valid UTF-8.",
        "usage_not_utf8": "Argument {n} is not valid UTF-8 text; nothing was saved. "
                          "Check the terminal's character encoding (e.g. LANG=en_US.UTF-8).",
        "usage_not_utf8_option": "The value of {option} is not valid UTF-8 text; nothing was "
                                 "saved. Check the terminal's character encoding "
                                 "(e.g. LANG=en_US.UTF-8).",
        "bad_headcount": "Headcount must be a whole number from 0 to 100000.",
        "bad_date": "Dates are written year-month-day, e.g. 2026-03-01.",
        "bad_summary": "Write a short summary of the session.",
        "bad_agreement": "Write what the parties agreed.",
        "case_closed": "The case is closed.",
        "bad_followup": "Follow-up visits are at 1, 3 and 6 months after closing.",
        "no_followup": "This case has no follow-up plan yet; close it first.",
        "bad_satisfaction": "Satisfaction must be 1 to 5.",
        "bad_code": "Code \"{value}\" may hold letters, digits, - or _ (at most 32).",
        "bad_field": "That field cannot be changed.",
        "doc_not_found": "No case {ref}.",
        "not_a_store": "This file is not a villagecourt store: {path}",
        "newer_schema": "The store was made by a newer version (schema {found}); upgrade.",
        "store_locked": "The store is in use by another program; try again shortly.",
        "store_full": "The disk is full: nothing was saved. Free some space and try again; "
                      "records already saved are safe.",
        "store_readonly": "The store file cannot be written (read-only or no permission); "
                          "call a technician.",
        "store_io": "Reading or writing the store file failed (a disk or USB error); run "
                    "\"villagecourt doctor\".",
        "store_internal": "The store hit an internal error; nothing was saved. Call a "
                          "technician.",
        "corrupt_doc": "A record is damaged; run \"villagecourt doctor\".",
        "no_node": ("No node is set up here. "
                    "First run: villagecourt init --village CODE --name NAME"),
        "node_exists": "A node already exists here: {home}",
        "not_provisioned": "This node has no certificate yet: provision it first "
                           "(villagecourt provision).",
        "bad_config": "The node's configuration file is damaged.",
        "no_store_key": "The store key file is missing; the data cannot be opened.",
        "bad_store_key": "The store key file is damaged.",
        "bad_language": "Language must be zh or en.",
        "bad_name": "Enter the village name.",
        "no_sync": "Sync is not running.",
        "usage_party": "Party format: role:name[:phone[:id]], e.g. applicant:Zhang San:13800138000",
        "error": "error",
        # doctor: the home's permissions (store/files.py)
        "doctor_perms_ok": "Only this user can read the node home (folders 0700, files 0600).",
        "doctor_perms_tightened": "{count} file(s) or folder(s) of the node home were readable "
                                  "by other users (e.g. {path}); they were made private when "
                                  "the node opened.",
        "doctor_perms_loose": "{path} is readable by other users (mode {mode}; {count} path(s) "
                              "in all). As the owner of these files run: chmod -R go-rwx "
                              "{home}; if another user owns them (a run with sudo), first: "
                              "sudo chown -R $USER {home}",
        "init_done": "Node created: {village_name} ({village}), county {county}, home {home}",
        "case_added": "Registered case {number}: {title}",
        "case_saved": "Saved {number}: {status}",
        "case_closed_done": "Closed {number}. Follow-up visits: {dates}",
        "session_logged": "Logged a session for {number} ({count} in all)",
        "followup_done": "Recorded the {month}-month follow-up of {number}",
        "no_cases": "No cases match.",
        "no_due": "No follow-up visits are due soon.",
        "overdue": "{days} days overdue",
        "due_in": "due in {days} days",
        "due_today": "due today",
        "cases_shown": "{count} cases, showing {shown}",
        "cases_more": "These are {first}-{last}: --page {next} for the next page, or --all "
                      "for every one.",
        "demo_done": "Sample data created: {cases} cases. Node home: {home}",
        "demo_progress": "Creating sample data",
        "stats_total": "Cases",
        "stats_success": "Mediation success rate",
        "stats_followups": "Follow-ups on time",
        "stats_satisfaction": "Mean satisfaction",
        "stats_by_category": "By category",
        "stats_by_status": "By status",
        "stats_screenings": "Screenings",
        "attendance": "attendance",
        "none": "none",
        "col_number": "Number",
        "col_title": "Title",
        "col_category": "Category",
        "col_status": "Status",
        "col_updated": "Updated",
        "col_due": "Due",
        "col_month": "Visit",
        "parties": "Parties",
        "description": "Description",
        "sessions": "Sessions",
        "agreement": "Agreement",
        "followups": "Follow-ups",
        "timeline": "Timeline",
        "group_dispute": "Group dispute, {n} people",
        "month_n": "month {m}",
        "done_on": "done on {date}",
        "tui_missing": "The terminal UI cannot start: {reason}",
        "usage_peer": "Peer format: HOST:PORT, e.g. 192.168.1.20:7457",
        "usage_sync": "No county relay is set. Give --relay URL, or --peer HOST:PORT.",
        "sync_progress": "Syncing: {sent} sent, {received} received",
        "sync_ok": "Synced with {peer}: {sent} sent, {received} received ({kb} KB, {seconds} s)",
        "sync_failed": "Sync with {peer} failed: {reason}",
        "serve_listening": ("Sync is running: LAN port {port}, county relay {relay}. "
                            "Ctrl+C stops it."),
        "serve_peer": "Found a node of this village: {peer} ({address})",
        "serve_synced": "Synced with {peer}: {sent} sent, {received} received",
        "edited": "registration corrected",
        "serve_media": "Education video download: {name} {have}/{total} blocks",
        "serve_media_done": "Education videos downloaded: {complete}; still missing: {pending}",
        "media_paused": "The disk is nearly full (less than {floor} MB free): video downloads "
                        "are paused and go on by themselves once space is freed",
        "status_relay": "County relay: {relay}",
        "status_pending": "Changes not yet at the relay: {n}",
        "status_last": "Last good sync: {at}",
        "status_seen": "last seen {at}",
        "never": "never",
        "connect_failed": "Could not connect (no network, or the peer is not running).",
        "timeout": "The peer stopped answering; the link was closed.",
        "transport_closed": "The link broke; the next sync continues where it stopped.",
        "protocol_error": "The peer sent malformed data; refused.",
        "bad_frame": "The peer sent malformed data; refused.",
        "frame_too_large": "The peer sent too much data at once; refused.",
        "out_of_order": "The peer sent data out of order; refused.",
        "bad_document": "The peer sent a damaged record; nothing of it was saved.",
        "busy": "The county relay is busy; it will be retried shortly.",
        "busy_retry": "The county relay is busy; retrying in {seconds} s",
        "version_mismatch": "The peer runs an incompatible version; upgrade.",
        "not_authorized": "The peer may not read or write these records; refused.",
        "wrong_county": "The peer belongs to another county; refused.",
        "nothing_shared": "There are no records the two sides may share.",
        "peer_error": "The peer ended the sync.",
        "scopes_changed": "Permissions changed; sync once more.",
        "no_relay": "No county relay is set.",
        "usage_provision": ("Usage: villagecourt provision --relay URL --token CODE, "
                            "or --file FILE --code CODE"),
        "provisioned": "This machine is now node {node} ({role}, {county}/{village}), home {home}",
        "bad_token": "The enrolment code is 16 letters and digits.",
        "unknown_token": "The relay does not know this enrolment code.",
        "token_used": "This enrolment code was already used; ask the county for a new one.",
        "token_expired": "This enrolment code has expired; ask the county for a new one.",
        "relay_not_proven": ("The relay could not prove it issued this code: wrong address or "
                             "code, or someone in between. Nothing was sent."),
        "relay_unreachable": "Cannot reach the county relay; check the address and network.",
        "bad_enrol_file": "The enrolment file is damaged or unreadable.",
        "wrong_enrol_code": "The code does not open this enrolment file.",
        "no_certificate": "The peer presented no certificate; refused.",
        "expired": "The certificate has expired; a technician must enrol the node again.",
        "not_yet_valid": "The certificate is not valid yet; check this computer's clock.",
        "revoked": "This node has been revoked; sync refused.",
        "bad_certificate": "The certificate is not valid.",
        "kit_done": "Offline kit written to {path}: {n} wheels. On the village PC run: sh {script}",
        "kit_failed": "The offline kit was not built: {reason}",
        "serve_port_taken": "LAN port {port} is taken ({reason}); using the free port {new}.",
        "serve_no_lan": "Cannot listen on a LAN port: the village's other PCs cannot find "
                        "this one; syncing with the county relay only.",
    },
}


def t(lang: str, key: str, **values: Any) -> str:
    table = MESSAGES.get(lang) or MESSAGES["zh"]
    template = table.get(key) or MESSAGES["en"].get(key) or key
    try:
        return template.format(**values)
    except (KeyError, IndexError):
        return template


def label(lang: str, table: dict[str, tuple[str, str]], code: str) -> str:
    """The zh or en label of a category, status or role code."""
    pair = table.get(code)
    if pair is None:
        return code
    return pair[0] if lang == "zh" else pair[1]


def category_label(lang: str, code: str) -> str:
    return label(lang, CATEGORIES, code)


def status_label(lang: str, code: str) -> str:
    return label(lang, STATUSES, code)


def role_label(lang: str, code: str) -> str:
    return label(lang, PARTY_ROLES, code)


def error_message(lang: str, exc: BaseException) -> str:
    """One line for people, from an error with a ``code`` and ``details``."""
    code = getattr(exc, "code", "")
    details: dict[str, Any] = dict(getattr(exc, "details", {}) or {})
    if code == "bad_transition":
        allowed = details.get("allowed") or []
        hint = (t(lang, "bad_transition_hint",
                  allowed="、".join(status_label(lang, s) for s in allowed) if lang == "zh"
                  else ", ".join(status_label(lang, s) for s in allowed))
                if allowed else t(lang, "bad_transition_final"))
        return t(lang, "bad_transition", old=status_label(lang, details.get("old", "")),
                 new=status_label(lang, details.get("new", "")), hint=hint)
    if code == "bad_category":
        sep = "、" if lang == "zh" else ", "
        return t(lang, code, value=details.get("value", ""),
                 allowed=sep.join(f"{c}({category_label(lang, c)})" for c in CATEGORIES))
    if code == "bad_status":
        sep = "、" if lang == "zh" else ", "
        return t(lang, code, value=details.get("value", ""),
                 allowed=sep.join(f"{s}({status_label(lang, s)})" for s in STATUSES))
    if code and code in MESSAGES["en"]:
        return t(lang, code, **details)
    return str(exc)


def busy_message(lang: str, retry_after: float = 0) -> str:
    """The relay is at its cap of sessions (error code ``busy``): when we try again."""
    if retry_after and retry_after > 0:
        return t(lang, "busy_retry", seconds=int(retry_after))
    return t(lang, "busy")


def sync_error_message(lang: str, exc: BaseException | None) -> str:
    """Plain words for a sync failure: by the error's code, or by its reason detail."""
    if exc is None:
        return t(lang, "peer_error")
    details = getattr(exc, "details", {}) or {}
    if getattr(exc, "code", "") == "busy" and details.get("retry_after"):
        return busy_message(lang, details["retry_after"])
    for key in (details.get("reason"), getattr(exc, "code", "")):
        if key and key in MESSAGES["en"]:
            return t(lang, key)
    return str(exc)
