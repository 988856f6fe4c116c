"""Management commands of SPEC §11, run for real."""

from __future__ import annotations

import io
import json
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from fulfillment.management.commands import samcart_send
from fulfillment.models import Notification, Order, OrderStatus, Outcome, SplitReason
from tests.factories import make_project, make_publisher, post_notify, sample


@pytest.mark.django_db(transaction=True)
def test_samcart_send_posts_to_a_running_server(live_server):
    publisher = make_publisher(balance="100.00")
    make_project(publisher, "{279813}{294010}")
    out = io.StringIO()

    call_command(
        "samcart_send",
        idpub=publisher.idpub,
        base_url=live_server.url,
        product=["279813", "294010"],
        quantity=2,
        order_id="123456",
        stdout=out,
    )

    status, answer = out.getvalue().split(" ", 1)
    assert status == "200"
    assert json.loads(answer)["outcome"] == Outcome.CREATED
    # One products[] body: one box of two lines (SPEC §18).
    [box] = Order.objects.all()
    assert sorted(box.lines.values_list("external_product_id", "quantity")) == [
        ("279813", 2),
        ("294010", 2),
    ]
    call_command(
        "samcart_send",
        url=_url(live_server, publisher),
        product=["279813"],
        order_id="9",
        form=True,
        test=True,
        stdout=out,
    )
    assert Order.objects.get(external_order_id="9").is_test


@pytest.mark.django_db(transaction=True)
def test_samcart_send_sends_bumps_as_later_posts_of_the_same_order(live_server):
    publisher = make_publisher(balance="100.00", grouping_minutes=10)
    make_project(publisher, "279813", title="Book")
    make_project(publisher, "298020", title="Bookmark")
    make_project(publisher, "305550", title="Postcards")
    command = samcart_send.Command()
    waits: list[float] = []
    command.sleep = waits.append
    out = io.StringIO()

    call_command(
        command,
        idpub=publisher.idpub,
        base_url=live_server.url,
        product=["279813:2"],
        bump=["298020", "305550:3"],
        bump_delay=1.5,
        order_id="7700",
        stdout=out,
    )

    printed = out.getvalue().splitlines()
    assert [line.split(" ", 1)[0] for line in printed] == ["200", "200", "200"]
    assert [json.loads(line.split(" ", 1)[1])["outcome"] for line in printed] == [
        Outcome.CREATED
    ] * 3
    assert waits == [1.5, 1.5]  # SamCart's bumps: one POST each, after the first
    assert Notification.objects.count() == 3
    [box] = Order.objects.all()  # the bumps joined the box of the first POST
    assert list(box.lines.values_list("external_product_id", "quantity")) == [
        ("279813", 2),
        ("298020", 1),
        ("305550", 3),
    ]
    # Another street: the same SamCart order's next line starts a box of its own.
    make_project(publisher, "310001", title="Gift")
    call_command(
        "samcart_send",
        idpub=publisher.idpub,
        base_url=live_server.url,
        product=["310001"],
        order_id="7700",
        street="8 Harbour View",
        stdout=out,
    )
    second = Order.objects.get(box_number=2)
    assert (second.split_reason, second.ship_street) == (
        SplitReason.ANOTHER_ADDRESS,
        "8 Harbour View",
    )


@pytest.mark.parametrize(
    ("options", "said"),
    [
        ({"product": ["279813:0"]}, "'279813:0' must be a whole number of at least 1"),
        ({"product": ["279813:x"]}, "'279813:x' must be a whole number of at least 1"),
        ({"bump": [":2"]}, "No product id in ':2'"),
        ({"quantity": 0}, "--quantity must be at least 1"),
        ({"bump": ["298020"], "bump_delay": -1}, "--bump-delay cannot be negative"),
    ],
)
@pytest.mark.django_db
def test_samcart_send_refuses_bad_products_before_sending(options, said):
    publisher = make_publisher()
    with pytest.raises(CommandError) as refused:
        call_command(
            "samcart_send", idpub=publisher.idpub, base_url="http://127.0.0.1:9", **options
        )
    assert said in str(refused.value)


def _url(live_server, publisher) -> str:
    return f"{live_server.url}/samcart/notify/?idpub={publisher.idpub}&key={publisher.notify_key}"


@pytest.mark.django_db
def test_reprocess_notifications_creates_orders_once(client):
    publisher = make_publisher(balance="100.00")
    post_notify(client, publisher, sample("order_products_array"))
    stored = Notification.objects.get()
    assert stored.outcome == Outcome.NO_MATCH
    make_project(publisher, "279813")

    out = io.StringIO()
    call_command("reprocess_notifications", stored.pk, stdout=out, stderr=io.StringIO())
    call_command("reprocess_notifications", stored.pk, stdout=out, stderr=io.StringIO())

    assert Order.objects.count() == 1
    assert "1 created" in out.getvalue()
    assert "1 duplicate" in out.getvalue()


@pytest.mark.django_db
def test_purge_deletes_only_old_rejected_notifications(client):
    publisher = make_publisher()
    post_notify(client, publisher, b"", key="wrong")
    post_notify(client, publisher, b"")
    post_notify(client, publisher, sample("refund"))
    Notification.objects.update(received_at=timezone.now() - timedelta(days=31))
    post_notify(client, publisher, b"", key="wrong")

    call_command("purge_notifications", stdout=io.StringIO())

    remaining = list(Notification.objects.values_list("outcome", flat=True))
    assert sorted(remaining) == [Outcome.IGNORED, Outcome.REJECTED]


@pytest.mark.django_db(transaction=True)
def test_demo_data_sends_boxes_of_several_items_once(tmp_path):
    out = io.StringIO()
    call_command("demo_data", samcart_data=tmp_path / "samcart.json", stdout=out)

    def boxes(order_id: int) -> list[tuple[str, list[str], str, str]]:
        return [
            (
                box.ship_street,
                [line.project.title for line in box.active_lines()],
                box.split_reason,
                box.status,
            )
            for box in Order.objects.with_lines()
            .filter(external_order_id=str(order_id))
            .order_by("box_number")
        ]

    almanac, bump = (
        "The Lighthouse Keeper's Almanac (Paperback)",
        "Lighthouse Bookmark (order bump)",
    )
    # A book and its order bump a second later: one box of two items, charged, waiting.
    assert boxes(9_200_001) == [("1 Sample Street", [almanac, bump], "", OrderStatus.SCHEDULED)]
    # A gift to another street: a second box that says why.
    assert boxes(9_200_002) == [
        ("1 Sample Street", [almanac], "", OrderStatus.SCHEDULED),
        ("8 Harbour View", [bump], SplitReason.ANOTHER_ADDRESS, OrderStatus.SCHEDULED),
    ]
    # No balance: a cart of two products in one body, on hold.
    [(_, items, _, status)] = boxes(9_200_003)
    assert (items, status) == (["Quarterly Print Journal", "Daily Planner 2027"], OrderStatus.HOLD)
    assert "Sent 3 demo SamCart order(s)" in out.getvalue()
    counts = Order.objects.count(), Notification.objects.count()

    again = io.StringIO()
    call_command("demo_data", samcart_data=tmp_path / "samcart.json", stdout=again)

    assert (Order.objects.count(), Notification.objects.count()) == counts
    assert "demo SamCart order" not in again.getvalue()


@pytest.mark.django_db(transaction=True)
def test_demo_data_gives_an_earlier_demo_publisher_the_projects_it_lacks():
    earlier = make_publisher(name="Lighthouse Press", email="orders@lighthouse-press.example")
    make_project(earlier, "279813", title="The Lighthouse Keeper's Almanac (Paperback)")

    call_command("demo_data", stdout=io.StringIO())

    titles = sorted(earlier.projects.values_list("title", flat=True))
    assert titles == [
        "Almanac + Workbook Bundle",
        "Companion Workbook (Print)",
        "Lighthouse Bookmark (order bump)",
        "The Lighthouse Keeper's Almanac (Paperback)",
    ]
    [box] = Order.objects.with_lines().filter(publisher=earlier, external_order_id="9200001")
    assert len(box.active_lines()) == 2  # the bump found its project
