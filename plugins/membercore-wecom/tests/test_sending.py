"""Messages to patients: the mass-message task as WeCom documents it, its sender, its template."""

from __future__ import annotations

import attrs
import pytest

from membercore.ports import PermanentDeliveryError
from membercore.testing.channels import contract_template as _t
from membercore_wecom import WeComChannel
from membercore_wecom.testing import WeComServer

from .conftest import LI_CUSTOMERS, ZHANG_CUSTOMERS, MakeChannel, outbox


def test_a_message_becomes_a_task_for_the_health_manager_to_confirm(
    channel: WeComChannel, server: WeComServer
) -> None:
    receipt = channel.send(outbox(text="王女士您好，请按时复诊。"))
    (task,) = server.tasks
    assert receipt == task.msgid
    assert task.sender == "zhanghua"
    assert task.customers == [ZHANG_CUSTOMERS[0]]
    assert task.content == "王女士您好，请按时复诊。"
    (seen,) = server.calls("/cgi-bin/externalcontact/add_msg_template")
    assert seen.method == "POST"
    assert seen.body == {
        "chat_type": "single",
        "external_userid": [ZHANG_CUSTOMERS[0]],
        "sender": "zhanghua",
        "text": {"content": "王女士您好，请按时复诊。"},
    }


def test_the_task_names_the_message_it_carries(channel: WeComChannel, server: WeComServer) -> None:
    receipt = channel.send(outbox(7))
    assert channel.message_of(receipt) == "M0001/msg/7"
    assert channel.message_of("msgUnknown") is None


def test_a_manager_not_in_the_staff_table_is_their_own_userid(
    channel: WeComChannel, server: WeComServer
) -> None:
    channel.send(outbox(manager="lisi", to=LI_CUSTOMERS[0]))
    assert server.tasks[0].sender == "lisi"


def test_a_member_without_a_manager_is_sent_by_the_default_sender(
    server: WeComServer, environ: dict[str, str], make_channel: MakeChannel
) -> None:
    channel = make_channel(server, default_sender="lisi")
    channel.send(outbox(manager=None, to=LI_CUSTOMERS[0]))
    assert server.tasks[0].sender == "lisi"


def test_nobody_to_send_is_given_up_before_asking_wecom(
    channel: WeComChannel, server: WeComServer
) -> None:
    with pytest.raises(PermanentDeliveryError, match="no health manager"):
        channel.send(outbox(manager=None))
    assert server.requests == []


def test_a_member_without_an_external_contact_id_is_given_up(
    channel: WeComChannel, server: WeComServer
) -> None:
    with pytest.raises(PermanentDeliveryError, match="no WeCom external contact id"):
        channel.send(outbox(to=None))
    assert server.requests == []


def test_an_unreadable_payload_is_given_up(channel: WeComChannel, server: WeComServer) -> None:
    broken = attrs.evolve(outbox(), payload="{not json")
    with pytest.raises(PermanentDeliveryError, match="not an outgoing message"):
        channel.send(broken)


def test_a_text_longer_than_wecom_takes_is_given_up(
    channel: WeComChannel, server: WeComServer
) -> None:
    with pytest.raises(PermanentDeliveryError, match="4000 bytes"):
        channel.send(outbox(text="复" * 1400))  # 4,200 bytes of UTF-8
    assert server.requests == []


def test_every_template_is_carried_as_free_text(channel: WeComChannel) -> None:
    assert channel.carries(_t("annual_plan_offer")) == "free text"
    assert channel.carries(_t("anything")) == "free text"


def test_the_options_may_restrict_the_templates_it_carries(
    server: WeComServer, environ: dict[str, str], make_channel: MakeChannel
) -> None:
    channel = make_channel(server, templates=["hba1c_recheck"])
    assert channel.carries(_t("hba1c_recheck")) == "free text"
    assert channel.carries(_t("annual_plan_offer")) is None
    with pytest.raises(PermanentDeliveryError, match="does not carry template 'annual_plan_offer'"):
        channel.send(outbox(template="annual_plan_offer"))
    channel.send(outbox(2))
    assert len(server.tasks) == 1


def test_a_message_handed_over_again_is_not_sent_again(
    channel: WeComChannel, server: WeComServer
) -> None:
    first = channel.send(outbox(3))
    again = channel.send(outbox(3))
    assert again == first
    assert len(server.tasks) == 1


def test_the_channel_is_named_by_its_options(
    server: WeComServer, environ: dict[str, str], make_channel: MakeChannel
) -> None:
    assert make_channel(server).name == "wecom"
    assert make_channel(server, name="wecom-care").name == "wecom-care"
