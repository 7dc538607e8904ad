"""Realistic Chinese sample data for a node: cases of every category and status, mediation
sessions, agreements, follow-up visits, consultations with the linked judge, legal-education
content and screenings.

Everything goes through the node's public services (``node.cases``, ``node.consultations``,
``node.education``); only county content, which a village node never writes in real life,
is created directly in the store under the county scope. The data is deterministic for a
given ``seed`` and ``today``: the same titles, parties, dates and outcomes in the same order
(document ids and the node's short id in case numbers stay random).

Personal data is made up: names from common surnames and given names, mobile numbers with
real mainland prefixes, and 18-digit resident ID numbers with a valid check digit and birth
date (region codes of Quzhou, Zhejiang).
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

from automerge.core import ROOT, ObjType

from store import amdoc, kinds, records
from store.records import (
    AGREED,
    CATEGORIES,
    CLOSED,
    ESCALATED,
    FAILED,
    FOLLOWUP_MONTHS,
    MEDIATING,
    REGISTERED,
    STATUSES,
    Party,
    add_months,
    id_check_digit,
)

if TYPE_CHECKING:
    from .node import Node

__all__ = ["fill_demo", "DemoPeople"]

JUDGE = "联系法官 王法官"

# How the cases of a village are spread over the life cycle (weights).
STATUS_WEIGHTS: dict[str, int] = {
    REGISTERED: 8, MEDIATING: 14, AGREED: 6, FAILED: 6, ESCALATED: 8, CLOSED: 58,
}
# Neighbour and family disputes dominate in villages; environment and traffic are rarer.
CATEGORY_WEIGHTS: dict[str, int] = {
    "neighbour": 24, "family": 18, "land": 14, "property": 7, "labour": 8, "loan": 12,
    "consumer": 5, "environment": 4, "traffic": 5, "other": 3,
}

# --- people -------------------------------------------------------------------------------
SURNAMES = ("王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙", "马", "朱",
            "胡", "郭", "何", "林", "罗", "郑", "梁", "谢", "宋", "唐", "许", "韩", "冯", "邓",
            "曹", "彭", "曾", "肖", "田", "董", "潘", "袁", "蒋", "蔡", "余", "杜", "叶", "程",
            "柴", "毛", "祝", "汪", "方", "姜", "鲁", "童")
MALE_GIVEN = ("建国", "建军", "国平", "志强", "永福", "德明", "海林", "春生", "金水", "友根",
              "伟", "强", "军", "勇", "杰", "涛", "明", "超", "华", "平", "卫东", "小龙",
              "树根", "炳荣", "振华", "长青", "新民", "文斌", "家豪", "宇航")
FEMALE_GIVEN = ("秀英", "桂英", "玉兰", "丽华", "美玲", "淑芬", "春花", "彩凤", "小燕", "红梅",
                "芳", "娟", "敏", "静", "丽", "艳", "霞", "婷", "雪梅", "金花", "爱珍",
                "素琴", "晓琳", "佳怡", "梦婷")
MOBILE_PREFIXES = ("130", "131", "132", "133", "135", "136", "137", "138", "139", "150",
                   "151", "152", "153", "155", "156", "157", "158", "159", "177", "180",
                   "181", "182", "183", "185", "186", "187", "188", "189", "191", "199")
# Quzhou, Zhejiang: 柯城区, 衢江区, 常山县, 开化县, 龙游县, 江山市.
REGION_CODES = ("330802", "330803", "330822", "330824", "330825", "330881")
MEDIATORS = ("周国平", "李建华", "徐美玲", "毛新民", "祝春花", "汪振华")
COOPERATIVES = ("衢州市绿源生态农业合作社", "柯城区万亩茶香家庭农场", "衢江区金穗粮油专业合作社")
PROPERTY_FIRMS = ("锦绣家园物业服务有限公司", "衢州市安居物业管理有限公司")
CONTRACTORS = ("常山县宏达建筑劳务队", "衢江区鑫源建筑工程有限公司")
SHOPS = ("龙游县丰收农资经营部", "江山市乐购电子商务有限公司", "衢州优选生活馆（网店）")
FARMS = ("开化县顺发养殖场", "衢江区旺达生猪养殖场")
QUARRIES = ("常山县石门采石场", "江山市峡口石料厂")


@dataclass
class DemoPeople:
    """Makes up people with plausible names, mobiles and resident ID numbers."""

    rng: random.Random

    def name(self, female: bool | None = None) -> str:
        if female is None:
            female = self.rng.random() < 0.45
        given = self.rng.choice(FEMALE_GIVEN if female else MALE_GIVEN)
        return self.rng.choice(SURNAMES) + given

    def mobile(self) -> str:
        return self.rng.choice(MOBILE_PREFIXES) + f"{self.rng.randrange(10**8):08d}"

    def id_number(self, female: bool, today: dt.date) -> str:
        born = dt.date(today.year - self.rng.randint(20, 85), 1, 1) + dt.timedelta(
            days=self.rng.randrange(365))
        serial = self.rng.randrange(0, 1000)
        # The 17th digit is odd for men and even for women (GB 11643).
        if (serial % 2 == 0) != female:
            serial = (serial + 1) % 1000
        first17 = f"{self.rng.choice(REGION_CODES)}{born:%Y%m%d}{serial:03d}"
        return first17 + id_check_digit(first17)

    def party(self, role: str, today: dt.date, *, name: str | None = None,
              female: bool | None = None, with_id: float = 0.7) -> Party:
        if female is None:
            female = self.rng.random() < 0.45
        return Party(
            role=role,
            name=name or self.name(female),
            phone=self.mobile() if self.rng.random() < 0.9 else "",
            id_number=self.id_number(female, today) if self.rng.random() < with_id else "",
        )


# --- what the disputes are about ------------------------------------------------------------
@dataclass(frozen=True)
class Scenario:
    title: str
    description: str
    agreement: str
    group: bool = False
    orgs: tuple[str, ...] = ()  # the respondent is one of these organisations, if given


SCENARIOS: dict[str, tuple[Scenario, ...]] = {
    "neighbour": (
        Scenario("{a}与{b}宅基地界址纠纷",
                 "{a}反映邻居{b}翻建房屋时越过原宅基地界址约{small}米，并在界址上砌了围墙，"
                 "双方多次争执，{a}要求恢复原界址。",
                 "经现场测量并参照宅基地确权图，双方确认以原界桩连线为界；{b}于{days}日内拆除"
                 "越界部分围墙，{a}不再追究其他责任。"),
        Scenario("{a}与{b}院墙倒塌损害赔偿纠纷",
                 "{b}家院墙年久失修，连日大雨后倒塌，砸坏{a}家的菜地和鸡舍，{a}要求赔偿损失"
                 "{amount}元。",
                 "{b}一次性赔偿{a}损失{part}元，并于本月底前重砌院墙；双方握手言和。"),
        Scenario("{a}与{b}排水沟堵塞纠纷",
                 "{b}修建院坝时将两家之间的排水沟填平，雨季积水倒灌进{a}家堂屋，双方为此发生"
                 "口角并有推搡。",
                 "{b}于{days}日内自费疏通并重新铺设排水管道，村委会派人监督施工；{a}撤回赔偿"
                 "要求。"),
        Scenario("{a}与{b}相邻通行纠纷",
                 "{b}在自家门前砌墙，堵住了{a}家通往承包地的唯一通道，{a}的农用车无法通行，"
                 "春耕受到影响。",
                 "{b}拆除门前围墙一段，留出宽{small}米的通道供{a}通行；{a}负责通道路面硬化"
                 "费用的一半。"),
        Scenario("{a}与{b}房屋滴水及采光纠纷",
                 "{b}新建三层楼房，屋檐滴水落入{a}家院内，且楼房遮挡了{a}家的采光，{a}要求"
                 "{b}加装檐沟并给予补偿。",
                 "{b}于{days}日内加装檐沟和落水管，并补偿{a}采光损失{part}元。"),
    ),
    "family": (
        Scenario("{a}与子女赡养纠纷",
                 "{a}年近八旬，老伴去世后独居，三个子女对赡养费分担和轮流照顾意见不一，"
                 "{a}请求村里主持调解。",
                 "子女三人每人每月支付赡养费{small}00元，于每月5日前转入{a}账户；医疗费凭票据"
                 "三人平均分担；{b}负责日常照料，其他两人每月轮流探望。"),
        Scenario("{a}与{b}离婚财产分割纠纷",
                 "{a}与{b}协议离婚，双方对婚后共同建造的房屋及共同存款{amount}元的分割存在"
                 "争议。",
                 "婚后房屋归{a}所有，{a}向{b}支付折价款{part}元，分两期付清；共同存款各半"
                 "分割。"),
        Scenario("{a}与{b}彩礼返还纠纷",
                 "{a}之子与{b}之女订婚后解除婚约，{a}要求返还彩礼{amount}元，{b}以已购置嫁妆"
                 "为由只同意返还部分。",
                 "{b}返还彩礼{part}元，已购置的嫁妆归{b}家所有，双方今后互不追究。"),
        Scenario("{a}与{b}子女抚养费纠纷",
                 "{a}与{b}离婚后，孩子随{a}生活，{b}已有{small}个月未支付抚养费，{a}要求补付"
                 "并按月支付。",
                 "{b}补付拖欠的抚养费{part}元，此后每月10日前支付抚养费{small}00元，直至孩子"
                 "年满十八周岁。"),
        Scenario("{a}与{b}家庭遗产分割纠纷",
                 "父亲去世后留下老宅一处和存款{amount}元，兄弟{a}与{b}对老宅归属和存款分配"
                 "意见不一，已多年不来往。",
                 "老宅归{b}所有，{b}补偿{a}{part}元；存款用于支付母亲的赡养和医疗，余款两人"
                 "平分。"),
    ),
    "land": (
        Scenario("{a}与{b}土地承包经营权流转纠纷",
                 "{a}将{small}亩承包地流转给{b}种植茶叶，合同约定每亩年租金600元，{b}已拖欠两年"
                 "租金共计{amount}元。",
                 "{b}于{days}日内支付拖欠租金{amount}元，此后每年12月底前付清当年租金；流转"
                 "合同继续履行。", orgs=COOPERATIVES),
        Scenario("{n}户村民与{b}土地流转到期返还纠纷",
                 "{n}户村民的承包地流转给{b}经营，合同到期后{b}未按约定恢复耕地原状，地里仍有"
                 "大棚钢架和水泥地面。",
                 "{b}于两个月内拆除大棚设施、清理水泥地面并复垦，逾期每亩每月补偿100元；村委会"
                 "组织验收。", group=True, orgs=COOPERATIVES),
        Scenario("{a}与{b}山林界址纠纷",
                 "{a}与{b}两家自留山界址不清，{b}砍伐了界址附近的{small}0株杉木，{a}认为这些"
                 "杉木长在自家山界内。",
                 "以林权证附图和老界石为准重新确定界址；已砍杉木折价{part}元由{b}支付给{a}。"),
        Scenario("{a}与{b}承包地调整纠纷",
                 "{a}户因家庭人口增加要求调整承包地，与承包相邻地块的{b}就地块边界和面积"
                 "发生争执。",
                 "按第二轮承包台账重新丈量，{b}退还多占的{small}分地；地上青苗由{b}收割后"
                 "交付。"),
    ),
    "property": (
        Scenario("{b}与{a}物业费拖欠纠纷",
                 "{b}称安置小区业主{a}拖欠物业费{small}个月共计{amount}元；{a}以电梯经常故障、"
                 "保洁不到位为由拒绝缴纳。",
                 "物业公司于{days}日内完成电梯维修并公示保洁安排；{a}补缴物业费{part}元，"
                 "滞纳金免除。", orgs=PROPERTY_FIRMS),
        Scenario("{n}户业主与{b}停车收费纠纷",
                 "安置小区{n}户业主对{b}新定的停车收费标准不满，集体拒缴停车费，并在小区门口"
                 "聚集。",
                 "停车费按原标准执行至业主大会表决；{b}公示收支明细，业主代表参与监督。",
                 group=True, orgs=PROPERTY_FIRMS),
        Scenario("{a}与{b}楼上漏水纠纷",
                 "{b}家卫生间防水层破损，导致楼下{a}家天花板渗水发霉，{a}要求维修并赔偿"
                 "{amount}元。",
                 "{b}于{days}日内请人重做防水，并赔偿{a}墙面修复费用{part}元。"),
    ),
    "labour": (
        Scenario("{n}名务工人员与{b}欠薪纠纷",
                 "{n}名村民在{b}承包的工地务工，工程完工后仍有工资{amount}元未结清，包工头以"
                 "发包方未付款为由一再拖延。",
                 "{b}于{days}日内分两期付清拖欠工资{amount}元，村委会和派出所见证；逾期未付的，"
                 "工人可持本协议申请司法确认。", group=True, orgs=CONTRACTORS),
        Scenario("{a}与{b}工伤赔偿纠纷",
                 "{a}在{b}的家庭作坊做工时被机器压伤手指，住院{small}天，双方对医疗费和误工费"
                 "的赔偿数额有争议。",
                 "{b}承担全部医疗费，另支付误工费、营养费共计{part}元，一次性付清。"),
        Scenario("{a}与{b}农忙帮工报酬纠纷",
                 "{a}在{b}家采茶、收稻共{small}0天，约定每天150元，{b}以活干得不好为由只付了"
                 "一半。",
                 "{b}补付帮工报酬{part}元，当场付清。"),
    ),
    "loan": (
        Scenario("{a}与{b}民间借贷纠纷",
                 "{a}借给{b}人民币{amount}元用于购买农机，有借条为证，约定一年内归还，到期后"
                 "{b}以收成不好为由一直未还。",
                 "{b}确认欠款{amount}元，于{days}日内先还{part}元，余款在年底前还清；{a}放弃"
                 "利息。"),
        Scenario("{a}与{b}借条利息纠纷",
                 "{b}向{a}借款{amount}元，借条约定月息2分，{b}认为利息过高，只愿归还本金。",
                 "双方同意按年利率10%计算利息，{b}于{days}日内还本付息共计{part}元。"),
        Scenario("{a}与{b}担保责任纠纷",
                 "{a}为同村人向{b}借款{amount}元作担保，借款人外出务工联系不上，{b}要求{a}"
                 "承担还款责任。",
                 "{a}先行代偿{part}元，保留向借款人追偿的权利；{b}放弃其余利息。"),
    ),
    "consumer": (
        Scenario("{a}与{b}网购农资质量纠纷",
                 "{a}通过电商平台向{b}购买复合肥{small}0袋，使用后秧苗大面积发黄，{a}怀疑化肥"
                 "质量不合格，协商退款未果。",
                 "{b}退还货款{part}元并承担送检费用；检测结果出来前{a}保留剩余化肥作为证据。",
                 orgs=SHOPS),
        Scenario("{a}与{b}直播带货退货纠纷",
                 "{a}在直播间购买的保健品与宣传不符，要求退货退款{amount}元，店家以已拆封为由"
                 "拒绝。",
                 "{b}同意退货退款{part}元，运费由店家承担。", orgs=SHOPS),
        Scenario("{a}与{b}农家乐消费纠纷",
                 "游客{a}在{b}经营的农家乐用餐后认为收费与菜单标价不符，双方发生争执。",
                 "{b}按菜单标价重新结账，退还多收的{part}元，并在店内显著位置公示价格。"),
    ),
    "environment": (
        Scenario("{n}户村民与{b}养殖污染纠纷",
                 "{b}的生猪养殖场紧邻村民住宅，粪污直排入溪沟，气味刺鼻，周边{n}户村民多次"
                 "投诉。",
                 "{b}于两个月内建成粪污处理池并接入沼气设施，期间减少存栏量；环保站和村委会"
                 "每月检查一次；村民不再阻拦养殖场运输车辆。", group=True, orgs=FARMS),
        Scenario("{a}与{b}焚烧秸秆烟尘纠纷",
                 "{b}在田间焚烧秸秆，浓烟飘进{a}家，{a}家中老人哮喘发作送医，{a}要求赔偿医疗费"
                 "{amount}元。",
                 "{b}赔偿{a}医疗费{part}元，并承诺今后秸秆交村里统一粉碎还田。"),
        Scenario("{n}户村民与{b}采石场粉尘噪音纠纷",
                 "{b}经营的采石场夜间作业，粉尘和噪音影响附近{n}户村民休息，村民要求停止"
                 "夜间生产。",
                 "{b}晚上10点至次日6点停止作业，安装喷淋降尘设备，并向受影响农户每户补偿"
                 "{small}00元。", group=True, orgs=QUARRIES),
    ),
    "traffic": (
        Scenario("{a}与{b}电动车碰撞纠纷",
                 "{a}骑电动车在村道转弯处与{b}驾驶的电动三轮车相撞，{a}腿部受伤住院{small}天，"
                 "医疗费{amount}元，双方对责任划分有争议。",
                 "参照交警事故认定，{b}承担主要责任，赔偿{a}医疗费、误工费等共计{part}元，"
                 "当场支付一半，余款一个月内付清。"),
        Scenario("{a}与{b}农用车刮擦纠纷",
                 "{b}驾驶拖拉机在机耕路上刮倒{a}停放的电动车，并撞坏{a}家的院门，{a}要求赔偿"
                 "{amount}元。",
                 "{b}赔偿电动车维修费和院门修理费共计{part}元。"),
        Scenario("{a}与{b}电动车撞伤老人纠纷",
                 "{b}骑电动车撞倒在村口散步的{a}，{a}手腕骨折，家属要求赔偿医疗费、护理费"
                 "{amount}元。",
                 "{b}赔偿{a}医疗费、护理费等共计{part}元，分三个月付清；{a}家属不再追究。"),
    ),
    "other": (
        Scenario("{a}与{b}犬只伤人纠纷",
                 "{b}家散养的狗咬伤路过的{a}，{a}注射狂犬疫苗并清创花费{amount}元，要求赔偿。",
                 "{b}赔偿{a}医疗费、误工费共计{part}元，并承诺今后拴养。"),
        Scenario("外嫁女{a}等{n}人村集体分红纠纷",
                 "外嫁女{a}等{n}人户口仍在本村，要求参与村集体经济分红，部分村民代表不同意。",
                 "经村民代表大会重新表决，户口在本村且未在他处享受分红的外嫁女按同等标准"
                 "参与分红。", group=True),
        Scenario("{a}与{b}婚丧酒席占道纠纷",
                 "{b}家办酒席在村道上搭棚三天，堵塞通行，{a}的货车无法进出，耽误了一批货物"
                 "交付。",
                 "{b}向{a}赔礼道歉并补偿{part}元；今后村里办酒席须提前报村委会备案。"),
    ),
}

SESSION_SUMMARIES = (
    "首次调解：分别听取双方陈述，{a}情绪较为激动，约定下周到现场查看。",
    "现场勘查：与双方一同到现场测量、拍照，核对了相关票据和证据。",
    "背靠背调解：分别做双方工作，{b}同意作出一定让步，双方差距缩小。",
    "面对面调解：双方围绕赔偿数额协商，{a}同意适当降低要求。",
    "请村里老党员和亲属参与调解，从邻里情分讲起，双方态度有所缓和。",
    "妇女干部参与调解，安抚当事人情绪，讲解相关政策。",
    "社区民警到场，讲明动手打人的法律后果，双方同意继续协商。",
)
JUDGE_SUMMARIES = (
    "视频连线联系法官释法说理，讲解《民法典》相关规定和类似案件的判决结果，双方基本认可。",
    "联系法官远程指导调解方案，明确了责任比例和赔偿项目的计算方法。",
)
FAILED_NOTES = ("双方分歧较大，调解未果", "{b}拒不到场，调解无法继续", "赔偿数额差距过大，调解失败")
ESCALATE_NOTES = ("转联系法官远程指导", "引导当事人网上立案", "移送法院诉前调解",
                  "申请联系法官线上参与调解")
CLOSE_FAILED_NOTES = ("当事人自行和解，撤回申请", "当事人表示放弃主张", "已告知诉讼途径，结案")
CLOSE_ESCALATED_NOTES = ("经法院诉前调解达成协议，结案", "法院已立案受理，本地结案",
                         "经联系法官释法，当事人撤回申请")
FOLLOWUP_OUTCOMES: dict[int, tuple[str, ...]] = {
    5: ("协议已全部履行，双方关系和好如初", "当事人对调解结果非常满意，表示感谢"),
    4: ("协议已履行，当事人表示满意", "赔偿款已按期支付，邻里关系缓和"),
    3: ("协议基本履行，仍有少量款项约定下月付清", "双方仍有小摩擦，已再次提醒遵守协议"),
    2: ("对方未按期履行，已电话督促", "当事人对调解结果仍有意见"),
    1: ("协议未履行，当事人考虑申请司法确认后强制执行",),
}
CONSULT_QUESTIONS: dict[str, str] = {
    "neighbour": "宅基地确权图与现场界桩不一致时，应以哪个为准？",
    "family": "子女以父母分家时财产分配不公为由拒绝赡养，是否成立？",
    "land": "土地流转合同到期后，承包方在地上修建的设施应如何处理？",
    "property": "业主以物业服务质量差为由拒缴物业费，法院一般如何处理？",
    "labour": "包工头以发包方未付款为由拖欠工资，工人能否直接向发包方主张？",
    "loan": "借条约定月息2分，超过法定保护上限的部分还能主张吗？",
    "consumer": "网购商品已拆封，商家能否拒绝七天无理由退货？",
    "environment": "村民集体投诉养殖污染，调解协议中能否约定停产整改期限？",
    "traffic": "没有交警事故认定书时，电动车事故的责任比例怎么确定？",
    "other": "外嫁女户口未迁出，是否有权参与村集体经济组织分红？",
}
JUDGE_ANSWERS: dict[str, str] = {
    "neighbour": "一般以不动产权属登记及确权图为准；现场界桩可作参考证据。建议先组织双方共同"
                 "核对确权资料，必要时申请自然资源部门复测。",
    "family": "赡养义务是法定义务，不以分得财产多少为前提，子女不得以分家不公为由拒绝赡养。"
              "可在协议中明确赡养费数额和支付时间，并申请司法确认。",
    "land": "应按合同约定处理；合同未约定的，承包方一般应恢复原状，确有利用价值的设施可由"
            "双方协商折价归发包方。",
    "property": "物业服务确有瑕疵的，可适当减免，但业主不能以此完全拒缴。建议物业公司先整改"
                "并公示，再协商补缴方案。",
    "labour": "可以。发包方将工程违法分包给不具备资质的个人的，应对拖欠的工资承担清偿责任。"
              "建议同时联系劳动监察部门。",
    "loan": "超过合同成立时一年期贷款市场报价利率四倍的部分，法院不予支持。可按此标准重新"
            "计算利息后调解。",
    "consumer": "拆封不当然排除七天无理由退货，视商品是否影响二次销售而定；保健品等特殊商品"
                "应看页面是否明示不适用。",
    "environment": "可以约定整改期限、整改标准和违约责任，协议可申请司法确认；涉及环保行政处罚"
                   "的，应同时告知生态环境部门。",
    "traffic": "可参照双方过错程度、车速、路况等因素确定责任比例，必要时申请交警补作认定或委托"
               "鉴定。",
    "other": "户口在本村、未在其他集体经济组织取得成员资格的外嫁女，一般应认定具有成员资格，"
             "享有同等分红权利。",
}
CONTENT_ITEMS: tuple[tuple[str, str, str, str], ...] = (
    ("农村宅基地纠纷怎么解决？法官给您支招", "土地", "article",
     "宅基地使用权、界址争议的协商、调解和诉讼途径。"),
    ("典型案例：子女拒不赡养老人被判支付赡养费", "婚姻家庭", "typical-case",
     "赡养义务不因分家不公而免除，法院判决子女按月支付赡养费。"),
    ("借条怎么写才有效——法官教您防范借贷风险", "借贷", "article",
     "借款人、金额、利息、还款期限和签名，一个都不能少。"),
    ("以案说法：土地流转合同到期后地上设施怎么处理", "土地", "video",
     "联系法官结合本县真实案例讲解土地流转合同到期后的权利义务。"),
    ("典型案例：电动车事故责任如何划分", "交通", "typical-case",
     "无证驾驶、逆行、超速对责任比例的影响。"),
    ("离婚时彩礼要不要返还？", "婚姻家庭", "article",
     "未办理结婚登记、共同生活时间短等情形下彩礼返还的规则。"),
    ("农民工讨薪有哪些法律途径", "劳动", "article",
     "劳动监察投诉、劳动仲裁、支付令和诉讼，以及发包方的清偿责任。"),
    ("典型案例：养殖场污染邻里环境被判停产整改", "生态环境", "typical-case",
     "养殖场粪污直排影响周边村民生活，法院判决限期整改并赔偿损失。"),
    ("以案说法：网购退货纠纷怎么办", "消费", "video",
     "七天无理由退货的适用范围和维权渠道。"),
)
SCREENING_PLACES = ("{village}文化礼堂", "{village}村委会会议室", "{village}老年活动中心",
                    "{village}祠堂", "{village}小学操场")


def _amount(rng: random.Random, low: int, high: int) -> int:
    """A money amount in whole hundreds of yuan."""
    return rng.randint(low // 100, high // 100) * 100


CHINA = dt.timezone(dt.timedelta(hours=8))  # China Standard Time, no daylight saving


def _at(day: dt.date, rng: random.Random, now: dt.datetime | None = None) -> str:
    """A timestamp on ``day`` in office hours, China time (UTC+8), stored as UTC; never
    after ``now`` (today's office hours may not be over)."""
    local = dt.datetime(day.year, day.month, day.day, rng.randint(8, 17), rng.randrange(60),
                        rng.randrange(60), tzinfo=CHINA)
    if now is not None and local > now:
        local = max(dt.datetime(day.year, day.month, day.day, tzinfo=CHINA),
                    now - dt.timedelta(minutes=rng.randint(5, 120)))
    return local.astimezone(dt.timezone.utc).isoformat(timespec="seconds")


def _retime(doc: amdoc.Document, sessions: list[str], first: str, end: str) -> None:
    """The shared writers stamp sessions and status changes with the clock; the demo's
    happened on their own days: each session at ``sessions[i]``, the status change of the
    first session at ``first``, the others at ``end``."""
    history = amdoc.read(doc).get("history") or []
    with doc.transaction() as tx:
        got = tx.get(ROOT, "sessions")
        if got is not None and isinstance(got[0], ObjType):
            for i in range(min(tx.length(got[1]), len(sessions))):
                item = tx.get(got[1], i)
                if item is not None and isinstance(item[0], ObjType):
                    amdoc.put(tx, item[1], "at", sessions[i])
        got = tx.get(ROOT, "history")
        if got is not None and isinstance(got[0], ObjType):
            for i in range(tx.length(got[1])):
                item = tx.get(got[1], i)
                if item is None or not isinstance(item[0], ObjType):
                    continue
                was = history[i].get("from") if i < len(history) else ""
                amdoc.put(tx, item[1], "at", first if was == REGISTERED and sessions else end)


def _plan_status(i: int, rng: random.Random) -> str:
    statuses = list(STATUSES)
    if i < len(statuses):  # the first cases cover every status
        return statuses[i]
    return rng.choices(list(STATUS_WEIGHTS), weights=list(STATUS_WEIGHTS.values()))[0]


def _plan_category(i: int, rng: random.Random) -> str:
    cats = list(CATEGORIES)
    if i < len(cats):  # ... and every category
        return cats[(i * 7) % len(cats)]  # 7 is coprime with 10: a permutation
    return rng.choices(list(CATEGORY_WEIGHTS), weights=list(CATEGORY_WEIGHTS.values()))[0]


async def fill_demo(node: Node, *, cases: int = 240, seed: int = 7,
                    today: dt.date | None = None,
                    progress: Callable[[int, int], None] | None = None) -> dict[str, int]:
    """Fill ``node`` with ``cases`` sample cases and some consultations, content and
    screenings; returns how many of each were written. ``progress(i, cases)`` is called
    after each case."""
    rng = random.Random(seed)
    times = random.Random(seed + 1)  # the times of day: the rest of the data stays as it was
    people = DemoPeople(rng)
    day0 = today or dt.datetime.now(CHINA).date()  # the village's day, not the machine's
    clock = min(dt.datetime.now(CHINA), dt.datetime.combine(day0, dt.time(23, 59), CHINA))
    created_on: dict[str, dt.date] = {}
    village = node.config.village_name
    counts = {"cases": 0, "group_cases": 0, "sessions": 0, "closed": 0, "agreements": 0,
              "followups_done": 0, "consultations": 0, "answered": 0, "content": 0,
              "screenings": 0}
    by_category: dict[str, list[str]] = {c: [] for c in CATEGORIES}
    consult_candidates: list[tuple[str, str]] = []  # (doc_id, category)

    for i in range(cases):
        status = _plan_status(i, rng)
        category = _plan_category(i, rng)
        scenario = rng.choice(SCENARIOS.get(category) or SCENARIOS["other"])
        mediator = rng.choice(MEDIATORS)

        # When it happened: open cases are recent, closed ones spread over ~8 months.
        if status == CLOSED:
            closed_on = day0 - dt.timedelta(days=rng.randint(2, 240))
            created = closed_on - dt.timedelta(days=rng.randint(5, 120))
        else:
            closed_on = None
            age = {REGISTERED: (0, 20), MEDIATING: (3, 90)}.get(status, (10, 200))
            created = day0 - dt.timedelta(days=rng.randint(*age))
        last_day = closed_on or day0

        applicant = people.party("applicant", day0)
        if scenario.orgs:
            respondent = Party(role="respondent", name=rng.choice(scenario.orgs),
                               phone=people.mobile())
        else:
            respondent = people.party("respondent", day0)
        parties = [applicant, respondent]
        if rng.random() < 0.12:
            parties.append(people.party("third", day0, with_id=0.3))
        headcount = rng.randint(8, 85) if scenario.group else 0
        amount = _amount(rng, 2_000, 120_000)
        words = {
            "a": applicant.name, "b": respondent.name, "n": headcount,
            "small": rng.randint(2, 9), "days": rng.choice((7, 10, 15, 20, 30)),
            "amount": amount, "part": _amount(rng, amount // 3, amount),
        }
        case = await node.cases.register(
            category=category, title=scenario.title.format(**words),
            description=scenario.description.format(**words), parties=parties,
            group=scenario.group, headcount=headcount, mediator=mediator,
            created_at=_at(created, rng, clock),
        )
        ref = case.doc_id
        created_on[ref] = created
        counts["cases"] += 1
        counts["group_cases"] += scenario.group
        by_category[category].append(ref)

        # Sessions: none for registered (and some escalated straight away), 1-3 otherwise.
        direct_escalation = status == ESCALATED and rng.random() < 0.3
        n_sessions = 0 if status == REGISTERED or direct_escalation else rng.randint(1, 3)
        span = max(1, (last_day - created).days)
        offsets = sorted(rng.sample(range(1, span + 1), min(n_sessions, span)))
        offsets = [o for o in offsets if created + dt.timedelta(days=o) <= last_day]
        stamps = [_at(created + dt.timedelta(days=o), times, clock) for o in offsets]
        for k, off in enumerate(offsets):
            judge = k > 0 and rng.random() < 0.25
            summary = rng.choice(JUDGE_SUMMARIES if judge else SESSION_SUMMARIES)
            participants = f"{applicant.name}、{respondent.name}、调解员{mediator}"
            if judge:
                participants += f"、{JUDGE}（视频）"
            await node.cases.log_session(
                ref, date=(created + dt.timedelta(days=off)).isoformat(),
                participants=participants, summary=summary.format(**words),
                judge_consulted=judge)
            counts["sessions"] += 1

        # The life cycle up to the planned status.
        if status == AGREED:
            await node.cases.change_status(ref, AGREED, note="双方达成一致，待签署协议")
        elif status in (FAILED, ESCALATED) and not direct_escalation:
            await node.cases.change_status(ref, FAILED,
                                           note=rng.choice(FAILED_NOTES).format(**words))
            if status == ESCALATED:
                await node.cases.change_status(ref, ESCALATED, note=rng.choice(ESCALATE_NOTES))
        elif direct_escalation:
            await node.cases.change_status(ref, ESCALATED, note=rng.choice(ESCALATE_NOTES))
        elif status == CLOSED and closed_on is not None:
            path = rng.random()
            if path < 0.72:
                await node.cases.close(ref, agreement=scenario.agreement.format(**words),
                                       on=closed_on)
                counts["agreements"] += 1
            else:
                await node.cases.change_status(ref, FAILED,
                                               note=rng.choice(FAILED_NOTES).format(**words))
                if path < 0.86:
                    await node.cases.close(ref, note=rng.choice(CLOSE_FAILED_NOTES),
                                           on=closed_on)
                else:
                    await node.cases.change_status(ref, ESCALATED,
                                                   note=rng.choice(ESCALATE_NOTES))
                    await node.cases.close(ref, note=rng.choice(CLOSE_ESCALATED_NOTES),
                                           on=closed_on)
            counts["closed"] += 1
            counts["followups_done"] += await _visit(node, ref, closed_on, day0, rng)
        # Sessions and status changes at their own days' times, not the builder's clock.
        end_day = closed_on or (created + dt.timedelta(days=offsets[-1]) if offsets
                                else created)
        end = max([_at(end_day, times, clock), case.created_at, *stamps[-1:]])
        await node.store.edit(ref, lambda d, s=stamps, e=end: _retime(
            d, s, s[0] if s else e, e))
        if status in (FAILED, ESCALATED, MEDIATING):
            consult_candidates.append((ref, category))
        if progress is not None:
            progress(i + 1, cases)

    counts["consultations"], counts["answered"] = await _consult(
        node, consult_candidates, cases, rng, times, created_on, day0, clock)
    titles = await _content(node)
    counts["content"] = len(titles)
    counts["screenings"] = await _screenings(node, titles, village, cases, day0, rng)
    return counts


async def _visit(node: Node, ref: str, closed_on: dt.date, today: dt.date,
                 rng: random.Random) -> int:
    """Record most follow-up visits that are due; some stay overdue. Returns how many."""
    done = 0
    for month in FOLLOWUP_MONTHS:
        due = add_months(closed_on, month)
        if due > today or rng.random() < 0.2:
            continue
        visit = min(today, max(closed_on, due + dt.timedelta(days=rng.randint(-3, 12))))
        satisfaction = rng.choices((5, 4, 3, 2, 1), weights=(45, 32, 13, 7, 3))[0]
        await node.cases.record_followup(
            ref, month, done=visit.isoformat(),
            outcome=rng.choice(FOLLOWUP_OUTCOMES[satisfaction]), satisfaction=satisfaction)
        done += 1
    return done


async def _consult(node: Node, candidates: list[tuple[str, str]], cases: int,
                   rng: random.Random, times: random.Random, created_on: dict[str, dt.date],
                   today: dt.date, clock: dt.datetime) -> tuple[int, int]:
    """A few questions to the linked judge, most of them answered: asked some days after
    the case was registered, answered hours or days later (never after ``clock``)."""
    if not candidates:
        return 0, 0
    picked = rng.sample(candidates, min(len(candidates), max(3, cases // 20)))
    asked = answered = 0
    for k, (ref, category) in enumerate(picked):
        consultation = await node.consultations.ask(ref, CONSULT_QUESTIONS[category])
        asked += 1
        day = min(today, created_on[ref] + dt.timedelta(days=times.randint(1, 20)))
        at = dt.datetime.fromisoformat(_at(day, times, clock))
        took = dt.timedelta(hours=times.choice((2, 5, 20, 26, 49, 72, 120)),
                            minutes=times.randrange(60))
        doc_id = consultation.doc_id
        if k == 0 or rng.random() < 0.7:  # at least one answer, some still open
            if at + took > clock:  # not yet answerable: asked earlier, or answered sooner
                at = clock - took - dt.timedelta(minutes=times.randint(5, 600))
                opened = dt.datetime.combine(created_on[ref], dt.time(18), CHINA)
                if at < opened:
                    at, took = opened, (clock - opened) / 2
            await node.store.edit(doc_id, lambda d, a=at: _put(d, asked_at=a))
            await node.consultations.answer(doc_id, JUDGE_ANSWERS[category], by=JUDGE)
            await node.store.edit(doc_id, lambda d, a=at + took: _put(d, answered_at=a))
            answered += 1
        else:
            await node.store.edit(doc_id, lambda d, a=at: _put(d, asked_at=a))
    return asked, answered


def _put(doc: amdoc.Document, **stamps: dt.datetime) -> None:
    with doc.transaction() as tx:
        for key, at in stamps.items():
            amdoc.put(tx, ROOT, key, at.astimezone(dt.timezone.utc).isoformat(
                timespec="seconds"))


async def _content(node: Node) -> list[str]:
    """The county's legal-education items (county scope: written straight to the store,
    as sync would bring them from the relay)."""
    titles: list[str] = []
    for title, topic, content_kind, summary in CONTENT_ITEMS:
        body = f"{summary}\n\n（县人民法院供稿，供各村共享法庭普法使用。）"
        await node.store.create(
            records.CONTENT, node.config.county_scope,
            lambda d, t=title, tp=topic, ck=content_kind, s=summary, b=body: kinds.new_content(
                d, title=t, topic=tp, content_kind=ck, summary=s, body=b, by=JUDGE))
        titles.append(title)
    return titles


async def _screenings(node: Node, titles: list[str], village: str, cases: int,
                      today: dt.date, rng: random.Random) -> int:
    """普法 screenings held in the village over the past months."""
    n = max(3, cases // 40)
    for _ in range(n):
        held = today - dt.timedelta(days=rng.randint(3, 300))
        shown = rng.sample(titles, rng.randint(1, min(3, len(titles))))
        await node.education.record_screening(
            date=held.isoformat(), place=rng.choice(SCREENING_PLACES).format(village=village),
            items=shown, attendance=rng.randint(25, 160),
            notes=rng.choice(("联系法官现场讲解，村民提问踊跃", "结合本村近期纠纷以案说法",
                              "发放普法宣传册两百余份", "网格员组织村民观看")))
    return n
