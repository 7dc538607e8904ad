"""Every string the terminal UI shows, in Chinese (default) and English.

Strings are keyed by stable ids (``tab.cases``, ``err.bad_phone``...); screens never hold
literal text. Key bindings carry an id as their description and the footer translates it
(see ``widgets/footer.py``), so switching language re-labels everything on screen.
Category, status and role labels come from ``store.records`` (one source for the CLI, the
TUI and the relay). ``tests/tui/test_i18n.py`` checks that zh and en have the same keys and
the same ``{placeholders}``.

Error messages are keyed ``err.<code>`` by the stable ``code`` of store, node and sync
errors, and say in plain words what to do, next to the field they concern.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from store.records import CATEGORIES, PARTY_ROLES, STATUSES

LANGUAGES = ("zh", "en")
DEFAULT = "zh"

STRINGS: dict[str, dict[str, str]] = {
    "zh": {
        # --- app, tabs and keys -------------------------------------------------------
        "app.title": "共享法庭 · {village}",
        "tab.home": "首页",
        "tab.cases": "案件",
        "tab.consult": "问法官",
        "tab.education": "普法",
        "tab.sync": "同步",
        "tab.stats": "统计",
        "key.quit": "退出",
        "key.lang": "English",
        "key.new_case": "登记案件",
        "key.find": "查找",
        "key.open": "打开",
        "key.back": "返回",
        "key.save": "保存",
        "key.cancel": "取消",
        "key.session": "记调解",
        "key.status": "改状态",
        "key.close_case": "结案",
        "key.followup": "回访",
        "key.ask": "问法官",
        "key.new_question": "提问",
        "key.new_screening": "记录放映",
        "key.play": "打开视频",
        "key.sync_now": "立即同步",
        "key.add_party": "加当事人",
        "key.next_role": "改身份",
        "key.clear_form": "清空",
        "key.edit_case": "修改登记",
        "key.revert": "还原",
        "key.tabs": "切换页面",
        "key.next": "下一项",
        "key.previous": "上一项",
        "lang.now": "已切换到中文。",
        # --- common -----------------------------------------------------------------------
        "none": "—",
        "optional": "（可不填）",
        "loading": "正在读取…",
        "today_is": "{village} · 今天 {date}",
        "month_visit": "{m}个月回访",
        "due.overdue": "逾期{days}天",
        "due.today": "今天到期",
        "due.in": "还有{days}天",
        "ago.just_now": "刚刚",
        "ago.minutes": "{n}分钟前",
        "ago.hours": "{n}小时前",
        "ago.days": "{n}天前",
        "yes": "是",
        "no": "否",
        # --- table columns ------------------------------------------------------------------
        "col.number": "案号",
        "col.title": "标题",
        "col.category": "类型",
        "col.status": "状态",
        "col.updated": "更新",
        "col.due": "回访日",
        "col.visit": "回访",
        "col.when": "时间",
        "col.next": "下一步",
        "col.question": "问题",
        "col.answer": "法官答复",
        "col.asked": "提问日",
        "col.kind": "形式",
        "col.topic": "主题",
        "col.date": "日期",
        "col.place": "地点",
        "col.attendance": "人数",
        "col.items": "内容",
        "col.media": "下载",
        "col.peer": "对方",
        "col.address": "地址",
        "col.last_seen": "上次见到",
        "col.result": "结果",
        "col.sent": "发出",
        "col.received": "收到",
        "col.message": "内容",
        # --- home ---------------------------------------------------------------------------
        "home.followups_n": "要做的回访 · {n} 次，其中逾期 {late} 次",
        "home.followups_none": "近期没有要做的回访。",
        "home.upcoming_n": "即将回访 · 本周 {week} 次，本月共 {n} 次",
        "home.upcoming_none": "这个月没有安排回访。",
        "home.this_week": "本周",
        "home.this_month": "本月",
        "home.waiting_n": "等您处理的案件 · {n} 件",
        "home.waiting_none": "没有等待处理的案件。",
        "home.answers_n": "法官的新答复 · {n} 条",
        "home.answers_none": "没有新的答复。",
        "home.warnings": "风险预警",
        "home.warnings_none": "没有预警。",
        "next.registered": "安排第一次调解",
        "next.mediating": "继续调解",
        "next.agreed": "签协议、结案",
        "next.failed": "转递或结案",
        "next.escalated": "等法院处理",
        # --- case list ----------------------------------------------------------------------
        "cases.filter": "输入案号、姓名或关键词，马上查找",
        "cases.all_categories": "全部类型",
        "cases.all_statuses": "全部状态",
        "cases.count": "共 {count} 件",
        "cases.count_shown": "共 {count} 件，已列出 {shown} 件（往下翻看更多）",
        "cases.none": "没有符合条件的案件。按 Ctrl+N 登记新案件。",
        # --- case detail --------------------------------------------------------------------
        "detail.heading": "案件 {number}",
        "detail.category": "类型",
        "detail.status": "状态",
        "detail.mediator": "调解员",
        "detail.registered": "登记",
        "detail.parties": "当事人",
        "detail.description": "案情",
        "detail.agreement": "调解协议",
        "detail.group": "群体性纠纷，涉及 {n} 人",
        "detail.timeline": "经过",
        "detail.no_phone": "无电话",
        "detail.hint_registered": "下一步：按 S 记录第一次调解。",
        "detail.hint_mediating": "下一步：调解成功按 C 结案并写下协议；没谈成按 T 改状态。",
        "detail.hint_agreed": "下一步：按 C 结案，写下协议内容。",
        "detail.hint_failed": "下一步：按 T 转递法院，或按 C 结案。",
        "detail.hint_escalated": "下一步：等待法院处理；按 A 问法官。",
        "detail.hint_closed": "已结案。到期时按 V 记录回访。",
        "tl.registered": "登记：{text}",
        "tl.session": "调解：{text}",
        "tl.session_judge": "调解（咨询了法官）：{text}",
        "tl.status": "状态：{old} → {new}",
        "tl.consultation": "问法官：{text}",
        "tl.answer": "法官答复：{text}",
        "tl.followup_due": "{m}个月回访到期",
        "tl.followup": "{m}个月回访：{text}",
        "tl.satisfaction": "（满意度 {n}）",
        "tl.edited": "修改登记：{fields}",
        "tl.field.category": "纠纷类型",
        "tl.field.title": "标题",
        "tl.field.description": "案情",
        "tl.field.mediator": "调解员",
        "tl.field.group": "群体性纠纷",
        "tl.field.headcount": "涉及人数",
        "tl.field.parties": "当事人",
        # --- forms --------------------------------------------------------------------------
        "form.save": "保存 Ctrl+S",
        "form.cancel": "取消 Esc",
        "form.draft_restored": "已恢复上次没填完的内容。按 Ctrl+L 清空重填。",
        "form.fix": "有 {n} 处要改，见红字。",
        "form.saving": "正在保存…",
        "form.date_hint": "年-月-日，或 11月25日、昨天",
        "reg.heading": "登记新纠纷",
        "reg.title": "纠纷标题",
        "reg.title_ph": "不填就按当事人和类型自动起，如：张三与李四邻里纠纷",
        "reg.parties_hint": "一人一行：姓名，有电话、身份证号就接着写（空格隔开）",
        "reg.later": "── 以下可以不填，以后在案件页按 E 补上 ──",
        "reg.category": "纠纷类型",
        "reg.choose": "请选择（按回车）",
        "reg.parties": "当事人",
        "reg.add_party": "＋ 再加一位当事人（Ctrl+P）",
        "reg.description": "案情简述",
        "reg.group": "群体性纠纷",
        "reg.headcount": "涉及人数",
        "reg.mediator": "调解员",
        "reg.done": "已登记案件 {number}",
        "edit.heading": "修改登记 · 案件 {number}",
        "edit.draft_restored": "已恢复上次没保存的修改。按 Ctrl+L 还原成已保存的内容。",
        "edit.done": "已保存修改",
        "edit.unchanged": "没有修改",
        "party.role": "身份",
        "party.name": "姓名",
        "party.phone": "电话",
        "party.id": "身份证号",
        "party.n": "第{n}位",
        "party.ph": "姓名  电话  身份证号（电话、身份证号可不填）",
        "session.heading": "记录调解 · {number}",
        "session.date": "调解日期",
        "session.participants": "参加人员",
        "session.summary": "调解情况",
        "session.judge": "本次咨询了联系法官",
        "session.done": "已记录 {number} 的调解",
        "status.heading": "改变状态 · {number}",
        "status.now": "现在：{status}",
        "status.to": "改为",
        "status.note": "说明",
        "status.final": "已结案的案件不能再改状态。",
        "status.done": "{number} 已改为“{status}”",
        "close.heading": "结案 · {number}",
        "close.agreement": "调解协议",
        "close.agreement_hint": "调解成功就写下协议内容；调解失败或已转递的案件不用写。",
        "close.date": "结案日期",
        "close.note": "说明",
        "close.done": "{number} 已结案。回访日期：{dates}",
        "fu.heading": "回访 · {number}",
        "fu.month": "哪次回访",
        "fu.month_opt": "{m}个月回访（{due}）",
        "fu.date": "回访日期",
        "fu.outcome": "协议履行情况",
        "fu.outcome_ph": "例如：已按协议赔偿，双方和好",
        "fu.satisfaction": "满意度",
        "fu.sat_none": "没问",
        "fu.none": "这个案件没有待做的回访。",
        "fu.done": "已记录 {number} 的{m}个月回访",
        "sat.1": "很不满意",
        "sat.2": "不满意",
        "sat.3": "一般",
        "sat.4": "满意",
        "sat.5": "非常满意",
        "ask.heading": "问联系法官",
        "ask.case": "案号",
        "ask.case_ph": "例如 BY-7Q2-0001",
        "ask.question": "问题",
        "ask.done": "问题已保存，联网同步时会送到法官那里。",
        "scr.heading": "记录普法放映",
        "scr.date": "日期",
        "scr.place": "地点",
        "scr.place_ph": "例如：村文化礼堂",
        "scr.items": "放了哪些内容（空格键勾选）",
        "scr.attendance": "参加人数",
        "scr.notes": "备注",
        "scr.done": "已记录放映：{n} 人参加",
        # --- consultations ------------------------------------------------------------------
        "consult.none": "还没有向法官提过问题。按 Ctrl+N 提问。",
        "consult.open": "等待答复",
        "consult.answered": "已答复",
        "consult.new": "新",
        "consult.q": "问（{date}）：",
        "consult.a": "{by} 答（{date}）：",
        "consult.waiting": "法官还没有答复。联网同步后，答复会自动出现在这里。",
        "consult.pick": "选中一个问题，按回车查看。",
        "notify.answer": "法官答复了 {number} 的问题",
        "notify.quit_key": "要退出，请按 Ctrl+Q。填了一半的表会保留。",
        # --- education ----------------------------------------------------------------------
        "edu.search": "输入关键词查找普法内容",
        "edu.all_topics": "全部主题",
        "edu.none": "还没有普法内容。县法院发布后，会同步到这里。",
        "edu.screenings": "放映记录",
        "edu.screenings_none": "还没有记录过放映。",
        "kind.article": "文章",
        "kind.typical-case": "典型案例",
        "kind.video": "视频",
        "item.meta": "{kind} · {topic} · {date}",
        "item.media": "附件：{names}",
        # media of an item: the list's column, the line under an item, opening it
        "media.ready": "已下载",
        "media.waiting": "等待下载",
        "media.percent": "{n} %",
        "media.disk_full": ("磁盘快满了（剩余不到 {mb} MB）：视频下载已暂停，腾出空间后会"
                            "自动继续。"),
        "media.line_ready": "视频已下载。按 O 用这台电脑的播放器打开。",
        "media.line_partial": "视频还在下载：{n} %",
        "media.line_waiting": "视频还没有下载：联网同步后会自动下载。",
        "media.opening": "正在用播放器打开 {name} …",
        # the path on a line of its own: copied whole, never cut by the line's wrap
        "media.no_player": ("这台电脑上找不到播放视频的程序。可以把视频文件复制到手机上看，"
                            "文件在：\n{path}"),
        "media.no_service": "这台电脑现在不能读取视频，请联系技术员。",
        # --- sync ---------------------------------------------------------------------------
        "sync.online": "● 在线",
        "sync.offline": "○ 离线",
        "sync.relay": "县服务器",
        "sync.relay_none": "还没有设置",
        "sync.last": "上次同步",
        "sync.never": "从未同步",
        "sync.pending": "还没送到县里",
        "sync.pending_n": "{n} 条记录",
        "sync.peers": "局域网里找到的电脑",
        "sync.peers_none": "没有找到。",
        "sync.history": "同步记录",
        "sync.history_none": "还没有同步过。",
        "sync.button": "立即同步",
        "sync.starting": "正在开始同步…",
        "sync.running": "正在与 {peer} 同步：已发出 {sent} 条，已收到 {received} 条",
        "sync.ok": "同步完成：发出 {sent} 条，收到 {received} 条。",
        "sync.failed": "同步没有成功：{reason}",
        "sync.result_ok": "成功",
        "sync.relay_label": "县服务器",
        "sync.nobody": "没有可以同步的对象：还没有设置县服务器，局域网里也没找到别的电脑。"
                       "记录都安全地存在本机。请技术员运行 villagecourt provision 设置县服务器。",
        "sync.nobody_lan": "局域网里没有找到别的电脑。",
        "sync.unreachable": "连不上县服务器（{url}）：网络不通，或服务器没开。",
        "sync.no_answer": "县服务器 {s} 秒内没有回应。",
        "sync.last_ok": "上次成功：{when}。",
        "sync.never_ok": "还没有成功同步过。",
        "sync.next_try": "{when}会自动再试。",
        "sync.next_manual": "可以稍后再按 S 重试。",
        "sync.in_s": "{n} 秒后",
        "sync.in_min": "约 {n} 分钟后",
        # --- statistics ---------------------------------------------------------------------
        "stats.total": "案件总数",
        "stats.open": "未结案 {n} 件",
        "stats.success": "调解成功率",
        "stats.success_detail": "结案 {closed} 件，其中调解成功 {agreed} 件",
        "stats.followups": "按时回访",
        "stats.followups_detail": "到期 {due} 次，已做 {done} 次，按时 {on_time} 次",
        "stats.satisfaction": "平均满意度",
        "stats.screenings": "普法放映",
        "stats.screenings_detail": "{n} 次，共 {people} 人次",
        "stats.by_category": "按类型",
        "stats.by_status": "按状态",
        # --- short labels for narrow table columns ---------------------------------------------
        "short.family": "婚姻家庭",
        "short.property": "物业纠纷",
        "short.environment": "生态环境",
        "short.agreed": "调解成功",
        "short.failed": "调解失败",
        # --- status bar ---------------------------------------------------------------------
        "bar.last_sync": "上次同步 {when}",
        "bar.pending": "待上传 {n}",
        "bar.peers": "局域网 {n} 台",
        # --- errors, by code ----------------------------------------------------------------
        "err.bad_category": "请选择纠纷类型。",
        "err.bad_title": "请写一个简短的标题（200字以内）。",
        "err.bad_phone": "电话不对：应是11位手机号，或带区号的座机（如 0570-3012345）。",
        "err.bad_id_number": "身份证号不对：应是18位，最后一位可以是X。请再核对一遍。",
        "err.bad_role": "请选择当事人的身份。",
        "err.bad_party": "请填写这位当事人的姓名。",
        "err.no_parties": "请至少填写一位当事人的姓名。",
        "err.bad_headcount": "人数请填0到100000之间的整数。",
        "err.bad_number": "请填一个整数。",
        "err.bad_date": "看不懂这个日期。可以写 {example}、{example_slash}、11月25日、昨天。",
        "err.future_date": "日期不能晚于今天（{today}）。",
        "err.no_such_day": "没有这一天：{year}年{month}月只有{last}天。",
        "err.no_such_month": "没有这一天：月份只有1到12月。",
        "err.before_registration": "日期不能早于本案登记的那天（{registered}）。",
        "err.bad_summary": "请写几句本次调解的情况。",
        "err.bad_agreement": "请写下双方达成的协议内容。",
        "err.bad_satisfaction": "满意度请选 1 到 5。",
        "err.case_closed": "这个案件已经结案了，不能再修改。",
        "err.no_followup": "这个案件还没结案，所以还没有回访计划。",
        "err.bad_followup": "回访只在结案后第1、3、6个月。",
        "err.bad_transition": "这个案件现在是“{old}”，不能改为“{new}”。{hint}",
        "err.bad_transition_hint": "可以改为：{allowed}。",
        "err.bad_transition_final": "已结案的案件不能再改。",
        "err.no_status": "请选择要改成的状态。",
        "err.too_long": "内容太长了，请写得简短一些。",
        "err.doc_not_found": "找不到这个案号，请核对。",
        "err.ambiguous_case": "有几个案件都对得上“{ref}”：{numbers}。请多写几位案号。",
        "err.missing_question": "请写下要问法官的问题。",
        "err.missing_place": "请填写放映地点。",
        "err.no_items": "请至少勾选一项放映的内容。",
        "err.bad_attendance": "人数请填0到100000之间的整数。",
        "err.store_locked": "数据正被另一个程序使用，请稍后再试。",
        "err.store_full": "磁盘已满，没有保存。请清理空间后再试。",
        "err.store_readonly": "数据文件无法写入，请联系技术员。",
        "err.store_io": "读写数据文件失败，请联系技术员。",
        "err.store_internal": "数据库内部错误，没有保存。请联系技术员。",
        "err.no_node": "这台电脑还没有设置好（找不到节点）。请联系技术员安装。",
        "err.bad_config": "节点的设置文件坏了，请联系技术员。",
        "err.no_store_key": "缺少数据钥匙文件，数据打不开。请联系技术员。",
        "err.bad_store_key": "数据钥匙文件坏了，数据打不开。请联系技术员。",
        "err.not_a_store": "这不是本系统的数据文件，请联系技术员。",
        "err.newer_schema": "数据是新版程序写的，请联系技术员升级本程序。",
        "err.corrupt_doc": "有一条记录坏了，请联系技术员检查。",
        "err.no_sync": "这台电脑的同步服务没有运行。所有记录都已安全地存在本机；"
                       "请联系技术员开启同步。",
        "err.transport_closed": "连接断了（网络不稳定）。下次联网时会接着同步。",
        "err.not_authorized": "对方拒绝了这台电脑（可能还没登记或已被停用），请联系技术员。",
        "err.version_mismatch": "对方的程序版本不一样，请联系技术员升级。",
        "err.protocol_error": "对方发来的数据看不懂，请联系技术员。",
        "err.peer_error": "对方出了问题，稍后会自动再试。",
        "err.local_protocol_error": "本机程序出了问题，请联系技术员。",
        "err.sync_error": "同步没有成功，稍后会自动再试。",
        "err.timeout": "等了太久没有回应，稍后会自动再试。",
        "err.unexpected": "出了点问题（{code}）。请再试一次；还不行就联系技术员。",
    },
    "en": {
        "app.title": "Shared court · {village}",
        "tab.home": "Home",
        "tab.cases": "Cases",
        "tab.consult": "Judge",
        "tab.education": "Education",
        "tab.sync": "Sync",
        "tab.stats": "Statistics",
        "key.quit": "Quit",
        "key.lang": "中文",
        "key.new_case": "New case",
        "key.find": "Find",
        "key.open": "Open",
        "key.back": "Back",
        "key.save": "Save",
        "key.cancel": "Cancel",
        "key.session": "Session",
        "key.status": "Status",
        "key.close_case": "Close",
        "key.followup": "Follow-up",
        "key.ask": "Ask judge",
        "key.new_question": "Ask",
        "key.new_screening": "Screening",
        "key.play": "Open video",
        "key.sync_now": "Sync now",
        "key.add_party": "Add party",
        "key.next_role": "Change role",
        "key.clear_form": "Clear",
        "key.edit_case": "Edit",
        "key.revert": "Reset",
        "key.tabs": "Switch page",
        "key.next": "Next field",
        "key.previous": "Previous field",
        "lang.now": "Switched to English.",
        "none": "—",
        "optional": "(optional)",
        "loading": "Loading…",
        "today_is": "{village} · today {date}",
        "month_visit": "{m}-month visit",
        "due.overdue": "{days} days late",
        "due.today": "due today",
        "due.in": "in {days} days",
        "ago.just_now": "just now",
        "ago.minutes": "{n} min ago",
        "ago.hours": "{n} h ago",
        "ago.days": "{n} days ago",
        "yes": "yes",
        "no": "no",
        "col.number": "Number",
        "col.title": "Title",
        "col.category": "Category",
        "col.status": "Status",
        "col.updated": "Updated",
        "col.due": "Due",
        "col.visit": "Visit",
        "col.when": "When",
        "col.next": "Next step",
        "col.question": "Question",
        "col.answer": "Answer",
        "col.asked": "Asked",
        "col.kind": "Type",
        "col.topic": "Topic",
        "col.date": "Date",
        "col.place": "Place",
        "col.attendance": "People",
        "col.items": "Items",
        "col.media": "Media",
        "col.peer": "With",
        "col.address": "Address",
        "col.last_seen": "Last seen",
        "col.result": "Result",
        "col.sent": "Sent",
        "col.received": "Received",
        "col.message": "Message",
        "home.followups_n": "Follow-up visits due · {n}, {late} late",
        "home.followups_none": "No follow-up visits due soon.",
        "home.upcoming_n": "Coming up · {week} this week, {n} this month",
        "home.upcoming_none": "No follow-up visit planned this month.",
        "home.this_week": "this week",
        "home.this_month": "this month",
        "home.waiting_n": "Open cases waiting for you · {n}",
        "home.waiting_none": "No open case is waiting.",
        "home.answers_n": "New answers from the judge · {n}",
        "home.answers_none": "No new answers.",
        "home.warnings": "Warnings",
        "home.warnings_none": "No warnings.",
        "next.registered": "Hold the first session",
        "next.mediating": "Continue mediating",
        "next.agreed": "Sign and close",
        "next.failed": "Escalate or close",
        "next.escalated": "Wait for the court",
        "cases.filter": "Type a case number, name or word to find cases",
        "cases.all_categories": "All categories",
        "cases.all_statuses": "All statuses",
        "cases.count": "{count} cases",
        "cases.count_shown": "{count} cases, {shown} listed (scroll down for more)",
        "cases.none": "No cases match. Press Ctrl+N to register one.",
        "detail.heading": "Case {number}",
        "detail.category": "Category",
        "detail.status": "Status",
        "detail.mediator": "Mediator",
        "detail.registered": "Registered",
        "detail.parties": "Parties",
        "detail.description": "What happened",
        "detail.agreement": "Agreement",
        "detail.group": "Group dispute, {n} people",
        "detail.timeline": "Timeline",
        "detail.no_phone": "no phone",
        "detail.hint_registered": "Next: press S to log the first session.",
        "detail.hint_mediating": ("Next: agreement reached? Press C to close with it; "
                                  "no agreement? Press T."),
        "detail.hint_agreed": "Next: press C to close and write down the agreement.",
        "detail.hint_failed": "Next: press T to escalate to the court, or C to close.",
        "detail.hint_escalated": "Next: wait for the court; press A to ask the judge.",
        "detail.hint_closed": "Closed. Press V to record a follow-up visit when it is due.",
        "tl.registered": "Registered: {text}",
        "tl.session": "Session: {text}",
        "tl.session_judge": "Session (judge consulted): {text}",
        "tl.status": "Status: {old} → {new}",
        "tl.consultation": "Asked the judge: {text}",
        "tl.answer": "Judge's answer: {text}",
        "tl.followup_due": "{m}-month visit due",
        "tl.followup": "{m}-month visit: {text}",
        "tl.satisfaction": " (satisfaction {n})",
        "tl.edited": "Registration corrected: {fields}",
        "tl.field.category": "category",
        "tl.field.title": "title",
        "tl.field.description": "what happened",
        "tl.field.mediator": "mediator",
        "tl.field.group": "group dispute",
        "tl.field.headcount": "headcount",
        "tl.field.parties": "parties",
        "form.save": "Save Ctrl+S",
        "form.cancel": "Cancel Esc",
        "form.draft_restored": "Restored what you had not saved. Ctrl+L clears the form.",
        "form.fix": "{n} things to fix, shown in red.",
        "form.saving": "Saving…",
        "form.date_hint": "YYYY-MM-DD, 2026/11/5 or yesterday",
        "reg.heading": "Register a dispute",
        "reg.title": "Title",
        "reg.title_ph": "left empty, made from the parties and category",
        "reg.parties_hint": "one per line: name, then phone and ID number if known",
        "reg.later": "── Optional: can be added later with E on the case page ──",
        "reg.category": "Category",
        "reg.choose": "Choose (Enter)",
        "reg.parties": "Parties",
        "reg.add_party": "+ Add another party (Ctrl+P)",
        "reg.description": "What happened",
        "reg.group": "Group dispute",
        "reg.headcount": "People",
        "reg.mediator": "Mediator",
        "reg.done": "Registered case {number}",
        "edit.heading": "Edit registration · case {number}",
        "edit.draft_restored": "Restored changes you had not saved. Ctrl+L goes back to "
                               "the saved values.",
        "edit.done": "Changes saved",
        "edit.unchanged": "Nothing changed",
        "party.role": "Role",
        "party.name": "Name",
        "party.phone": "Phone",
        "party.id": "ID number",
        "party.n": "No. {n}",
        "party.ph": "name  phone  ID number (phone and ID optional)",
        "session.heading": "Log a session · {number}",
        "session.date": "Date",
        "session.participants": "Who took part",
        "session.summary": "What happened",
        "session.judge": "The linked judge was consulted",
        "session.done": "Session logged for {number}",
        "status.heading": "Change status · {number}",
        "status.now": "Now: {status}",
        "status.to": "Change to",
        "status.note": "Note",
        "status.final": "A closed case cannot change its status.",
        "status.done": "{number} is now \"{status}\"",
        "close.heading": "Close · {number}",
        "close.agreement": "Agreement",
        "close.agreement_hint": ("Write the agreement if mediation succeeded; leave it "
                                 "empty for failed or escalated cases."),
        "close.date": "Closing date",
        "close.note": "Note",
        "close.done": "{number} closed. Follow-up visits: {dates}",
        "fu.heading": "Follow-up · {number}",
        "fu.month": "Which visit",
        "fu.month_opt": "{m}-month visit ({due})",
        "fu.date": "Visit date",
        "fu.outcome": "Is the agreement kept?",
        "fu.outcome_ph": "e.g. paid as agreed, the families are on good terms",
        "fu.satisfaction": "Satisfaction",
        "fu.sat_none": "Not asked",
        "fu.none": "This case has no follow-up visit to do.",
        "fu.done": "Recorded the {m}-month visit of {number}",
        "sat.1": "Very unhappy",
        "sat.2": "Unhappy",
        "sat.3": "Neutral",
        "sat.4": "Satisfied",
        "sat.5": "Very satisfied",
        "ask.heading": "Ask the linked judge",
        "ask.case": "Case number",
        "ask.case_ph": "e.g. BY-7Q2-0001",
        "ask.question": "Question",
        "ask.done": "Question saved; it goes to the judge at the next sync.",
        "scr.heading": "Record a screening",
        "scr.date": "Date",
        "scr.place": "Place",
        "scr.place_ph": "e.g. village culture hall",
        "scr.items": "Items shown (Space to tick)",
        "scr.attendance": "Attendance",
        "scr.notes": "Notes",
        "scr.done": "Screening recorded: {n} people",
        "consult.none": "No questions to the judge yet. Press Ctrl+N to ask one.",
        "consult.open": "Waiting",
        "consult.answered": "Answered",
        "consult.new": "new",
        "consult.q": "Question ({date}):",
        "consult.a": "{by} answered ({date}):",
        "consult.waiting": "No answer yet. It appears here by itself after a sync.",
        "consult.pick": "Pick a question and press Enter to read it.",
        "notify.answer": "The judge answered on {number}",
        "notify.quit_key": "To quit, press Ctrl+Q. Half-filled forms are kept.",
        "edu.search": "Type a word to search education content",
        "edu.all_topics": "All topics",
        "edu.none": "No education content yet. It arrives here once the court publishes it.",
        "edu.screenings": "Screenings held",
        "edu.screenings_none": "No screenings recorded yet.",
        "kind.article": "Article",
        "kind.typical-case": "Typical case",
        "kind.video": "Video",
        "item.meta": "{kind} · {topic} · {date}",
        "item.media": "Attachments: {names}",
        "media.ready": "ready",
        "media.waiting": "waiting",
        "media.percent": "{n} %",
        "media.disk_full": ("The disk is nearly full (less than {mb} MB free): video "
                            "downloads are paused and continue by themselves once space "
                            "is freed."),
        "media.line_ready": "The video is here. Press O to open it with this computer's "
                            "player.",
        "media.line_partial": "The video is still downloading: {n} %",
        "media.line_waiting": ("The video has not downloaded yet: it will by itself after "
                               "a sync with the network on."),
        "media.opening": "Opening {name} with the player …",
        "media.no_player": ("No program to play videos was found on this computer. You can "
                            "copy the video file to a phone; it is at:\n{path}"),
        "media.no_service": "Videos cannot be read on this computer now; ask your "
                            "technician.",
        "sync.online": "● Online",
        "sync.offline": "○ Offline",
        "sync.relay": "County server",
        "sync.relay_none": "not set up",
        "sync.last": "Last sync",
        "sync.never": "never",
        "sync.pending": "Not yet at the county",
        "sync.pending_n": "{n} records",
        "sync.peers": "Computers found on the local network",
        "sync.peers_none": "None found.",
        "sync.history": "Sync history",
        "sync.history_none": "No sync yet.",
        "sync.button": "Sync now",
        "sync.starting": "Starting to sync…",
        "sync.running": "Syncing with {peer}: {sent} sent, {received} received",
        "sync.ok": "Sync finished: {sent} sent, {received} received.",
        "sync.failed": "Sync did not work: {reason}",
        "sync.result_ok": "OK",
        "sync.relay_label": "county server",
        "sync.nobody": "Nobody to sync with: no county server is set up and no other computer "
                       "was found on the local network. Every record is safe on this computer. "
                       "Ask the technician to run villagecourt provision to set up the county "
                       "server.",
        "sync.nobody_lan": "No other computer was found on the local network.",
        "sync.unreachable": "Cannot reach the county server ({url}): no network, or the "
                            "server is down.",
        "sync.no_answer": "The county server did not answer within {s} s.",
        "sync.last_ok": "Last success: {when}.",
        "sync.never_ok": "No sync has worked yet.",
        "sync.next_try": "It tries again by itself {when}.",
        "sync.next_manual": "Press S to try again later.",
        "sync.in_s": "in {n} s",
        "sync.in_min": "in about {n} min",
        "stats.total": "Cases",
        "stats.open": "{n} open",
        "stats.success": "Mediation success",
        "stats.success_detail": "{agreed} of {closed} closed cases agreed",
        "stats.followups": "Follow-ups on time",
        "stats.followups_detail": "{due} due, {done} done, {on_time} on time",
        "stats.satisfaction": "Mean satisfaction",
        "stats.screenings": "Screenings",
        "stats.screenings_detail": "{n} held, {people} people",
        "stats.by_category": "By category",
        "stats.by_status": "By status",
        "short.family": "Family",
        "short.property": "Property",
        "short.environment": "Environment",
        "short.agreed": "Agreed",
        "short.failed": "Failed",
        "bar.last_sync": "last sync {when}",
        "bar.pending": "{n} to send",
        "bar.peers": "{n} on LAN",
        "err.bad_category": "Choose a category.",
        "err.bad_title": "Write a short title (at most 200 characters).",
        "err.bad_phone": ("Phone is not right: an 11-digit mobile, or a landline with "
                          "area code (e.g. 0570-3012345)."),
        "err.bad_id_number": ("ID number is not right: 18 characters, the last may be X. "
                              "Please check it again."),
        "err.bad_role": "Choose the party's role.",
        "err.bad_party": "Write this party's name.",
        "err.no_parties": "Write the name of at least one party.",
        "err.bad_headcount": "People: a whole number from 0 to 100000.",
        "err.bad_number": "Write a whole number.",
        "err.bad_date": "Not a date. Write e.g. {example}, {example_slash}, 11月25日 or "
                        "yesterday.",
        "err.future_date": "The date cannot be after today ({today}).",
        "err.no_such_day": "There is no such day: month {month} of {year} has only {last} days.",
        "err.no_such_month": "There is no such day: months go from 1 to 12.",
        "err.before_registration": "The date cannot be before the case was registered "
                                   "({registered}).",
        "err.bad_summary": "Write a few words about the session.",
        "err.bad_agreement": "Write what the parties agreed.",
        "err.bad_satisfaction": "Choose a satisfaction from 1 to 5.",
        "err.case_closed": "This case is closed and cannot change.",
        "err.no_followup": "This case is not closed yet, so it has no follow-up plan.",
        "err.bad_followup": "Follow-up visits are at 1, 3 and 6 months after closing.",
        "err.bad_transition": "The case is \"{old}\" and cannot become \"{new}\". {hint}",
        "err.bad_transition_hint": "It can become: {allowed}.",
        "err.bad_transition_final": "A closed case cannot change.",
        "err.no_status": "Choose the new status.",
        "err.too_long": "That is too long; please shorten it.",
        "err.doc_not_found": "No case with this number; please check it.",
        "err.ambiguous_case": "Several cases match “{ref}”: {numbers}. Type more of the "
                              "case number.",
        "err.missing_question": "Write the question for the judge.",
        "err.missing_place": "Write where the screening was held.",
        "err.no_items": "Tick at least one item that was shown.",
        "err.bad_attendance": "Attendance: a whole number from 0 to 100000.",
        "err.store_locked": "Another program is using the data; try again shortly.",
        "err.store_full": "The disk is full: nothing was saved. Free some space and retry.",
        "err.store_readonly": "The data file cannot be written; ask your technician.",
        "err.store_io": "Reading or writing the data file failed; ask your technician.",
        "err.store_internal": "Internal store error: nothing was saved. Ask your technician.",
        "err.no_node": "This computer is not set up yet (no node found); ask your technician.",
        "err.bad_config": "The node's settings file is damaged; ask your technician.",
        "err.no_store_key": "The data key file is missing; the data cannot be opened.",
        "err.bad_store_key": "The data key file is damaged; the data cannot be opened.",
        "err.not_a_store": "This is not a villagecourt data file; ask your technician.",
        "err.newer_schema": "The data was written by a newer version; ask for an upgrade.",
        "err.corrupt_doc": "A record is damaged; ask your technician to check it.",
        "err.no_sync": ("Sync is not running on this computer. Everything is saved here "
                        "safely; ask your technician to turn sync on."),
        "err.transport_closed": ("The connection dropped (unstable network). Sync continues "
                                 "the next time the network is there."),
        "err.not_authorized": ("The other side refused this computer (not enrolled, or "
                               "switched off); ask your technician."),
        "err.version_mismatch": "The other side runs a different version; ask for an upgrade.",
        "err.protocol_error": "The other side sent data we cannot read; ask your technician.",
        "err.peer_error": "The other side had a problem; it will try again by itself.",
        "err.local_protocol_error": "This program had a problem; ask your technician.",
        "err.sync_error": "Sync did not work; it will try again by itself.",
        "err.timeout": "No answer for too long; it will try again by itself.",
        "err.unexpected": "Something went wrong ({code}). Try again; if it persists, "
                          "ask your technician.",
    },
}

_current = DEFAULT


def set_language(lang: str | None) -> str:
    """Make ``lang`` the language of every later ``t()``; unknown values mean Chinese."""
    global _current
    _current = lang if lang in LANGUAGES else DEFAULT
    return _current


def language() -> str:
    return _current


def t(key: str, **values: Any) -> str:
    """The text of ``key`` in the current language, with ``values`` filled in.

    An unknown key comes back as itself, so a missing string shows up rather than crashing."""
    template = STRINGS[_current].get(key)
    if template is None:
        return key
    if not values:
        return template
    try:
        return template.format(**values)
    except (KeyError, IndexError, ValueError):
        return template


def has(key: str) -> bool:
    return key in STRINGS[_current]


def _pair(table: dict[str, tuple[str, str]], code: str) -> str:
    pair = table.get(code)
    if pair is None:
        return code or t("none")
    return pair[0] if _current == "zh" else pair[1]


def category_label(code: str) -> str:
    return _pair(CATEGORIES, code)


def status_label(code: str) -> str:
    return _pair(STATUSES, code)


def role_label(code: str) -> str:
    return _pair(PARTY_ROLES, code)


def short_label(code: str) -> str:
    """A category or status label short enough for a table column (English ones can be
    long: "Property management" becomes "Property")."""
    if has("short." + code):
        return t("short." + code)
    if code in CATEGORIES:
        return category_label(code).split(" & ")[0]
    return status_label(code)


def list_sep() -> str:
    return "、" if _current == "zh" else ", "


def error_text(exc: BaseException | str, **details: Any) -> str:
    """Plain words for an error (or an error code) of the store, node or sync layers."""
    if isinstance(exc, BaseException):
        code = str(getattr(exc, "code", "") or "")
        details = {**dict(getattr(exc, "details", {}) or {}), **details}
    else:
        code = exc
    if code == "bad_transition":
        allowed = [status_label(s) for s in details.get("allowed") or []]
        hint = (t("err.bad_transition_hint", allowed=list_sep().join(allowed)) if allowed
                else t("err.bad_transition_final"))
        return t("err.bad_transition", old=status_label(str(details.get("old", ""))),
                 new=status_label(str(details.get("new", ""))), hint=hint)
    if code == "bad_date":
        today = dt.date.today()
        return t("err.bad_date", example=today.isoformat(),
                 example_slash=f"{today.year}/{today.month}/{today.day}")
    if code == "ambiguous_case":
        numbers = list_sep().join(str(n) for n in details.get("numbers") or [])
        if details.get("more"):
            numbers += "…"
        return t("err.ambiguous_case", ref=str(details.get("ref", "")), numbers=numbers)
    if code == "no_such_day" and not details.get("last"):
        return t("err.no_such_month")
    if code and has("err." + code):
        return t("err." + code, **details)
    return t("err.unexpected", code=code or type(exc).__name__)


def short_date(iso: str | None) -> str:
    """The date part of an ISO date or timestamp ('' stays a dash)."""
    return (iso or "")[:10] or t("none")


def ago(iso: str | None, now: dt.datetime | None = None) -> str:
    """How long ago an ISO timestamp was, in plain words."""
    if not iso:
        return t("none")
    try:
        then = dt.datetime.fromisoformat(iso)
    except ValueError:
        return short_date(iso)
    if then.tzinfo is None:
        then = then.replace(tzinfo=dt.timezone.utc)
    seconds = ((now or dt.datetime.now(dt.timezone.utc)) - then).total_seconds()
    if seconds < 60:
        return t("ago.just_now")
    if seconds < 3600:
        return t("ago.minutes", n=int(seconds // 60))
    if seconds < 86400:
        return t("ago.hours", n=int(seconds // 3600))
    if seconds < 86400 * 30:
        return t("ago.days", n=int(seconds // 86400))
    return short_date(iso)


def due_text(days_overdue: int) -> str:
    if days_overdue > 0:
        return t("due.overdue", days=days_overdue)
    if days_overdue == 0:
        return t("due.today")
    return t("due.in", days=-days_overdue)
