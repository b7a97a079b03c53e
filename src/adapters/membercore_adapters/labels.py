"""What the code's keys are called, in Chinese and English.

Channels, purposes, refusal reasons, the kinds of staff task and their outcomes, the
roles of staff accounts and the states of subscriptions. The dashboard, the command's
listings and the staff console show these names instead of the keys; a key no table
names (a journey's own task kind, ``review``) is shown as it is.
"""

from __future__ import annotations

from collections.abc import Mapping

from membercore_adapters.language import Language, Words

__all__ = [
    "CHANNELS",
    "CONDITIONS",
    "DEPARTMENTS",
    "PLAN_STATUSES",
    "PURPOSES",
    "REFUSAL_REASONS",
    "STAFF_ROLES",
    "TASK_KINDS",
    "TASK_OUTCOMES",
    "named",
]

#: The channels the code knows (membercore.messages.CHANNELS, the staff channel).
CHANNELS = {
    "wecom": Words("企业微信", "WeCom"),
    "sms": Words("短信", "SMS"),
    "email": Words("电子邮件", "e-mail"),
    "phone": Words("电话", "phone"),
    "staff": Words("员工通知", "staff"),
    "console": Words("控制台", "console"),
}
#: The purposes of messages (membercore.messages.PURPOSES).
PURPOSES = {
    "care": Words("医疗关怀", "care"),
    "marketing": Words("营销", "marketing"),
    "research": Words("科研", "research"),
}
#: Why a message was refused (membercore.outreach.REFUSAL_REASONS).
REFUSAL_REASONS = {
    "unknown_template": Words("未知模板", "unknown template"),
    "purpose_mismatch": Words("用途与模板不符", "purpose mismatch"),
    "missing_variables": Words("缺少模板变量", "missing variables"),
    "no_channel": Words("无可用渠道", "no channel"),
    "no_consent": Words("未获同意", "no consent"),
    "weekly_cap": Words("超出每周上限", "weekly cap"),
    "stale": Words("已过时", "stale"),
}
#: The kinds of staff task the code creates, named as the staff notices name them.
TASK_KINDS = {
    "call": Words("致电", "call"),
    "follow_up": Words("随访", "follow-up"),
    "visit": Words("回访", "visit"),
    "assignment": Words("分配", "assignment"),
    "assign_health_manager": Words("指派健康管家", "assign a health manager"),
    "review": Words("复核", "review"),
}
#: What came of a task, as staff report it (the outcomes the reference journeys name,
#: and the usual ones of a call).
TASK_OUTCOMES = {
    "rebooked": Words("已改约", "rebooked"),
    "no_answer": Words("未接通", "no answer"),
    "declined": Words("患者拒绝", "declined"),
    "reached": Words("已联系", "reached"),
}

#: The roles of staff accounts (membercore.ports.STAFF_ROLES).
STAFF_ROLES = {
    "health_manager": Words("健康管家", "health manager"),
    "nurse": Words("护士", "nurse"),
    "doctor": Words("医生", "doctor"),
    "call_centre": Words("呼叫中心", "call centre"),
    "customer_service": Words("客服", "customer service"),
    "admin": Words("管理员", "administrator"),
}

#: Where a subscription is in its life (membercore.plans.SubscriptionStatus).
PLAN_STATUSES = {
    "pending_payment": Words("待付款", "pending payment"),
    "active": Words("有效", "active"),
    "grace": Words("宽限期", "in grace"),
    "expired": Words("已到期", "expired"),
    "lapsed": Words("已失效", "lapsed"),
    "cancelled": Words("已退订", "cancelled"),
    "refunded": Words("已退款", "refunded"),
    "changed": Words("已变更", "changed"),
}


#: A patient's sex as a registration states it (membercore.facts.Sex).
SEXES = {"female": Words("女", "female"), "male": Words("男", "male")}

#: What became of a message in the outbox (membercore.ports.OutboxMessage.status).
MESSAGE_STATUSES = {
    "pending": Words("待发送", "pending"),
    "delivered": Words("已送达", "delivered"),
    "failed": Words("发送失败", "failed"),
    "cancelled": Words("已取消", "cancelled"),
}


#: The departments of the reference programme and the demo hospital.
DEPARTMENTS = {
    "internal": Words("内科", "internal medicine"),
    "dental": Words("口腔科", "dental"),
    "pediatrics": Words("儿科", "paediatrics"),
    "tcm": Words("中医科", "traditional Chinese medicine"),
    "ortho": Words("骨科", "orthopaedics"),
    "dermatology": Words("皮肤科", "dermatology"),
    "ent": Words("耳鼻喉科", "ENT"),
    "ophthalmology": Words("眼科", "ophthalmology"),
    "gynecology": Words("妇科", "gynaecology"),
    "obstetrics": Words("产科", "obstetrics"),
    "endocrinology": Words("内分泌科", "endocrinology"),
    "cosmetic": Words("医美", "cosmetic"),
    "checkup_clinic": Words("体检中心", "check-up centre"),
    "inpatient": Words("住院部", "inpatient ward"),
    "rehab": Words("康复科", "rehabilitation"),
}

#: The conditions the reference ICD-10 table makes (membercore.facts.icd10).
CONDITIONS = {
    "type1_diabetes": Words("1型糖尿病", "type 1 diabetes"),
    "type2_diabetes": Words("2型糖尿病", "type 2 diabetes"),
    "diabetes": Words("糖尿病", "diabetes"),
    "chronic_disease": Words("慢性病", "chronic disease"),
    "hypertension": Words("高血压", "hypertension"),
    "ischaemic_heart_disease": Words("缺血性心脏病", "ischaemic heart disease"),
    "copd": Words("慢阻肺", "COPD"),
    "chronic_kidney_disease": Words("慢性肾脏病", "chronic kidney disease"),
    "pregnancy_loss": Words("流产及异位妊娠", "pregnancy loss"),
    "obstetric": Words("产科情况", "obstetric"),
    "pregnancy": Words("妊娠", "pregnancy"),
    "delivery": Words("分娩", "delivery"),
    "puerperium": Words("产褥期", "puerperium"),
    "joint_arthrosis": Words("髋膝关节病", "hip or knee arthrosis"),
    "femur_fracture": Words("股骨骨折", "femur fracture"),
    "orthopaedic_surgery": Words("骨科手术", "orthopaedic surgery"),
    "tooth_loss": Words("牙齿缺失", "tooth loss"),
    "dental_implant": Words("种植牙", "dental implant"),
}


def named(labels: Mapping[str, Words], key: str, language: Language) -> str:
    """The name of ``key`` in ``language``, or the key itself when no table names it."""
    words = labels.get(key)
    return key if words is None else words.say(language)
