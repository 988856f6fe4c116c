"""The data model of SPEC §3: contract names, publisher defaults, tenancy, database invariants.

The invariants are checked by writing around the services: a queryset `update()` and raw SQL
through `connection.cursor()` must both hit the database constraint. SQLite enforces the same
CHECK and (partial) unique constraints, so these run on both; CI runs them on PostgreSQL.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser
from django.db import IntegrityError, connection, models, transaction
from django.test import Client

from fulfillment.models import (
    LedgerEntry,
    LedgerKind,
    Notification,
    Order,
    OrderEvent,
    OrderLine,
    OrderStatus,
    Project,
    ProjectCartId,
    Publisher,
    new_notify_key,
)
from fulfillment.services.ledger import ledger_record
from fulfillment.services.publishers import publisher_create
from tests.factories import (
    make_project,
    make_publisher,
    make_publisher_user,
    make_staff_user,
    post_notify,
    sample,
)

pytestmark = pytest.mark.django_db

# ---------------------------------------------------------------------------------------------
# Contract names and strings (SPEC §3)

CONTRACT_FIELDS: dict[type[models.Model], tuple[str, ...]] = {
    Publisher: (
        "idpub",
        "name",
        "email",
        "balance",
        "notify_key",
        "require_notify_key",
        "auto_release",
        "use_billing_address",
        "users",
    ),
    Project: (
        "publisher",
        "title",
        "ecommerce_id_string",
        "unit_cost",
        "shipping_cost",
        "is_active",
    ),
    Order: (
        "publisher",
        "notification",
        "source",
        "external_order_id",
        "box_number",
        "split_reason",
        "ship_name",
        "ship_street",
        "ship_city",
        "ship_state",
        "ship_postal_code",
        "ship_country",
        "ship_country_code",
        "customer_email",
        "customer_phone",
        "cost",
        "status",
        "hold_reason",
        "is_test",
        "cart_refunded",
        "tracking_number",
        "created_at",
        "updated_at",
    ),
    Notification: (
        "publisher",
        "received_at",
        "remote_addr",
        "content_type",
        "raw_body",
        "event_type",
        "external_order_id",
        "outcome",
        "detail",
        "processed_at",
    ),
    OrderLine: (
        "order",
        "publisher",
        "project",
        "notification",
        "source",
        "external_order_id",
        "external_product_id",
        "quantity",
        "unit_cost",
        "shipping_cost",
        "removed_at",
        "cart_refunded",
    ),
    LedgerEntry: ("publisher", "amount", "kind", "order", "created_by", "note", "created_at"),
    OrderEvent: ("order", "kind", "actor", "detail", "created_at"),
}

MONEY_FIELDS = [
    (Publisher, "balance"),
    (Project, "unit_cost"),
    (Project, "shipping_cost"),
    (Order, "cost"),
    (OrderLine, "unit_cost"),
    (OrderLine, "shipping_cost"),
    (LedgerEntry, "amount"),
]


@pytest.mark.parametrize(
    ("model", "name"),
    [(model, name) for model, names in CONTRACT_FIELDS.items() for name in names],
    ids=lambda value: value if isinstance(value, str) else value.__name__,
)
def test_contract_field_exists(model, name):
    assert model._meta.get_field(name).name == name


def test_publisher_users_are_django_users():
    field = Publisher._meta.get_field("users")
    assert field.many_to_many
    assert field.related_model is get_user_model()


@pytest.mark.parametrize(("model", "name"), MONEY_FIELDS)
def test_money_is_a_two_place_decimal(model, name):
    field = model._meta.get_field(name)
    assert isinstance(field, models.DecimalField)
    assert field.decimal_places == 2


@pytest.mark.parametrize(
    ("model", "name"),
    [
        (Order, "external_order_id"),
        (OrderLine, "external_order_id"),
        (OrderLine, "external_product_id"),
        (Notification, "external_order_id"),
    ],
)
def test_external_ids_are_text(model, name):
    assert isinstance(model._meta.get_field(name), models.CharField)


def test_raw_body_keeps_bytes():
    assert isinstance(Notification._meta.get_field("raw_body"), models.BinaryField)


def test_order_foreign_keys_point_at_their_models():
    assert Order._meta.get_field("publisher").related_model is Publisher
    assert OrderLine._meta.get_field("order").related_model is Order
    assert OrderLine._meta.get_field("project").related_model is Project
    assert Order._meta.get_field("notification").related_model is Notification
    assert LedgerEntry._meta.get_field("order").related_model is Order
    assert OrderEvent._meta.get_field("order").related_model is Order


def choice_values(model: type[models.Model], name: str) -> set[str]:
    return {value for value, _ in model._meta.get_field(name).choices}


def test_order_status_strings():
    assert choice_values(Order, "status") == {
        "hold",
        "scheduled",
        "in_production",
        "shipped",
        "deleted",
    }
    assert Order._meta.get_field("status").default == "hold"


def test_order_hold_reason_strings():
    assert choice_values(Order, "hold_reason") == {
        "",
        "payment_required",
        "address_incomplete",
        "price_pending",
        "review",  # found by the SamCart check (SPEC §17)
    }


def test_order_found_by_strings():
    assert choice_values(Order, "found_by") == {"notify", "samcart_check"}
    assert Order._meta.get_field("found_by").default == "notify"


def test_notification_outcome_strings():
    contract = {
        "created",
        "duplicate",
        "ignored",
        "no_match",
        "unknown_publisher",
        "rejected",
        "error",
        "queued",  # spooled while the database was unreachable (SPEC §4)
    }
    # "" is the stored-but-not-yet-processed state; nothing else may be added.
    assert choice_values(Notification, "outcome") - {""} == contract


def test_ledger_kind_strings():
    assert choice_values(LedgerEntry, "kind") == {"deposit", "charge", "adjustment", "refund"}


def test_order_event_kinds_include_the_contract():
    kinds = {"created", "charged", "held", "edited", "released", "deleted", "shipped"}
    assert kinds | {"cart_refunded"} <= choice_values(OrderEvent, "kind")


def test_order_source_is_samcart_by_default():
    assert Order._meta.get_field("source").default == "samcart"


# ---------------------------------------------------------------------------------------------
# Publisher identity and defaults

IDPUB = re.compile(r"[0-9]{6,9}")
URLSAFE = re.compile(r"[A-Za-z0-9_-]+")


def test_idpub_is_6_to_9_digits_unique_and_not_sequential():
    idpubs = [make_publisher().idpub for _ in range(20)]
    assert all(IDPUB.fullmatch(idpub) for idpub in idpubs), idpubs
    assert len(set(idpubs)) == 20
    numbers = [int(idpub) for idpub in idpubs]
    steps = {b - a for a, b in itertools.pairwise(numbers)}
    # Neither consecutive nor in creation order: the next publisher's id cannot be guessed.
    assert 1 not in steps
    assert numbers != sorted(numbers)
    assert len(steps) > 1


def test_idpub_is_unique_in_the_database():
    assert Publisher._meta.get_field("idpub").unique
    first, second = make_publisher(), make_publisher()
    with transaction.atomic(), pytest.raises(IntegrityError):
        Publisher.objects.filter(pk=second.pk).update(idpub=first.idpub)


def test_idpub_is_assigned_at_creation_and_not_editable():
    publisher = publisher_create(name="Lighthouse Press", email="press@example.com")
    assert IDPUB.fullmatch(publisher.idpub)
    assert not Publisher._meta.get_field("idpub").editable
    publisher.refresh_from_db()
    assert IDPUB.fullmatch(publisher.idpub)


def test_notify_key_has_at_least_128_random_bits():
    keys = [make_publisher().notify_key for _ in range(20)] + [new_notify_key() for _ in range(20)]
    assert len(set(keys)) == len(keys)
    for key in keys:
        # URL-safe base64: 6 bits a character.
        assert URLSAFE.fullmatch(key), key
        assert len(key) * 6 >= 128, key
    assert Publisher._meta.get_field("notify_key").max_length >= len(keys[0])


def test_notify_key_is_not_derived_from_the_idpub():
    publisher = make_publisher()
    assert publisher.idpub not in publisher.notify_key


def test_publisher_defaults():
    publisher = publisher_create(name="Defaults Ltd", email="d@example.com")
    publisher.refresh_from_db()
    assert publisher.require_notify_key is True
    assert publisher.auto_release is False
    assert publisher.use_billing_address is False
    assert publisher.balance == Decimal("0.00")
    assert Publisher._meta.get_field("require_notify_key").default is True
    assert Publisher._meta.get_field("auto_release").default is False
    assert Publisher._meta.get_field("use_billing_address").default is False


# ---------------------------------------------------------------------------------------------
# Tenancy: for_publisher() and for_user() on every publisher-owned model

SCOPED_MODELS = [Publisher, Project, ProjectCartId, Order, OrderEvent, Notification, LedgerEntry]
SCOPED_MODELS_BY_INSTANCE = SCOPED_MODELS


def owner_of(obj: models.Model) -> int | None:
    """Return the pk of the publisher that owns `obj`."""
    if isinstance(obj, Publisher):
        return obj.pk
    if isinstance(obj, OrderEvent):
        return obj.order.publisher_id
    return obj.publisher_id


@pytest.fixture
def two_publishers(db):
    """Two funded publishers, each with a project, an order (charged), its events and ledger."""
    client = Client()
    publishers = []
    for title in ("Alpha", "Beta"):
        publisher = make_publisher(balance="100.00", name=title)
        make_project(publisher, "279813", title=f"{title} Almanac")
        response = post_notify(client, publisher, sample("order_products_array"))
        assert response.status_code == 200, response.content
        assert response.json()["outcome"] == "created"
        publishers.append(publisher)
    # A request naming no known publisher (9 digits: never assigned) is stored with none.
    client.post("/samcart/notify/?idpub=999999999&key=x", data=b"{}", content_type="text/plain")
    assert Notification.objects.filter(publisher__isnull=True).count() == 1
    return publishers


@pytest.mark.parametrize("model", SCOPED_MODELS_BY_INSTANCE, ids=lambda m: m.__name__)
def test_for_publisher_returns_only_that_publishers_rows(two_publishers, model):
    alpha, beta = two_publishers
    for publisher in (alpha, beta):
        by_object = list(model.objects.for_publisher(publisher))
        by_pk = list(model.objects.for_publisher(publisher.pk))
        assert by_object, f"no {model.__name__} rows for {publisher}"
        assert {owner_of(obj) for obj in by_object} == {publisher.pk}
        assert {obj.pk for obj in by_pk} == {obj.pk for obj in by_object}
    assert not set(model.objects.for_publisher(alpha)) & set(model.objects.for_publisher(beta))


@pytest.mark.parametrize("model", SCOPED_MODELS, ids=lambda m: m.__name__)
def test_staff_see_every_row(two_publishers, model):
    staff = make_staff_user()
    superuser = get_user_model().objects.create_superuser("root", "root@example.com", "pw-12345-x")
    everything = set(model.objects.values_list("pk", flat=True))
    assert {owner_of(obj) for obj in model.objects.all()} >= {p.pk for p in two_publishers}
    assert set(model.objects.for_user(staff).values_list("pk", flat=True)) == everything
    assert set(model.objects.for_user(superuser).values_list("pk", flat=True)) == everything


@pytest.mark.parametrize("model", SCOPED_MODELS, ids=lambda m: m.__name__)
def test_a_publisher_user_sees_only_their_publishers_rows(two_publishers, model):
    alpha, _beta = two_publishers
    user = make_publisher_user(alpha)
    seen = list(model.objects.for_user(user))
    assert seen
    assert {owner_of(obj) for obj in seen} == {alpha.pk}
    assert {obj.pk for obj in seen} == set(
        model.objects.for_publisher(alpha.pk).values_list("pk", flat=True)
    )


@pytest.mark.parametrize("model", SCOPED_MODELS, ids=lambda m: m.__name__)
def test_a_user_of_two_publishers_sees_both_once(two_publishers, model):
    alpha, beta = two_publishers
    user = make_publisher_user(alpha)
    beta.users.add(user)
    seen = [obj.pk for obj in model.objects.for_user(user)]
    assert len(seen) == len(set(seen))  # no duplicate rows from the users join
    assert {owner_of(obj) for obj in model.objects.filter(pk__in=seen)} == {alpha.pk, beta.pk}


@pytest.mark.parametrize("model", SCOPED_MODELS, ids=lambda m: m.__name__)
def test_nobody_else_sees_anything(two_publishers, model):
    assert model.objects.exists()
    anonymous = AnonymousUser()
    stranger = get_user_model().objects.create_user("stranger", password="pw-12345-x")
    admin_without_publisher = get_user_model().objects.create_user(
        "lonely", password="pw-12345-x", is_staff=True
    )
    former_staff = make_staff_user()
    former_staff.is_active = False
    former_staff.save()
    for user in (anonymous, stranger, admin_without_publisher, former_staff):
        assert not model.objects.for_user(user).exists(), user


# ---------------------------------------------------------------------------------------------
# Database invariants: an UPDATE that breaks one raises IntegrityError


@pytest.fixture
def world(db) -> dict[str, models.Model]:
    """Valid rows of every constrained model (orders written directly: the target is the DB)."""
    publisher = make_publisher(balance="100.00")
    project = make_project(publisher, "{1}{2}", unit_cost="5.00", shipping_cost="2.00")
    notification = Notification.objects.create(publisher=publisher, raw_body=b"{}")
    orders = [
        Order.objects.create(
            publisher=publisher,
            notification=notification,
            external_order_id="35211874",
            box_number=number,
            cost=Decimal("7.00"),
            status=OrderStatus.IN_PRODUCTION,
        )
        for number in (1, 2)
    ]
    lines = [
        OrderLine.objects.create(
            order=order,
            publisher=publisher,
            project=project,
            external_order_id="35211874",
            external_product_id=product,
            unit_cost=Decimal("5.00"),
            shipping_cost=Decimal("2.00"),
        )
        for order, product in zip(orders, ("1", "2"), strict=True)
    ]
    hold = Order.objects.create(
        publisher=publisher,
        external_order_id="35211875",
        cost=Decimal("7.00"),
        status=OrderStatus.HOLD,
        hold_reason="payment_required",
    )
    charges = [
        ledger_record(
            publisher_id=publisher.pk, amount=-order.cost, kind=LedgerKind.CHARGE, order=order
        )
        for order in orders
    ]
    return {
        "publisher": publisher,
        "project": project,
        "notification": notification,
        "order": orders[0],
        "second_order": orders[1],
        "line": lines[0],
        "second_line": lines[1],
        "hold_order": hold,
        "charge": charges[0],
        "second_charge": charges[1],
        "deposit": LedgerEntry.objects.get(publisher=publisher, kind=LedgerKind.DEPOSIT),
    }


Changes = Callable[[dict[str, models.Model]], dict[str, object]]

# (row in `world`, changes that break an invariant)
VIOLATIONS: dict[str, tuple[str, Changes]] = {
    "negative-balance": ("publisher", lambda w: {"balance": Decimal("-0.01")}),
    "duplicate-idpub": ("publisher", lambda w: {"idpub": make_publisher().idpub}),
    "order-status-invalid": ("order", lambda w: {"status": "cancelled"}),
    "order-status-empty": ("order", lambda w: {"status": ""}),
    "hold-without-reason": ("hold_order", lambda w: {"hold_reason": ""}),
    "hold-unknown-reason": ("hold_order", lambda w: {"hold_reason": "because"}),
    "in-production-with-reason": ("order", lambda w: {"hold_reason": "payment_required"}),
    "shipped-with-reason": (
        "order",
        lambda w: {"status": "shipped", "hold_reason": "address_incomplete"},
    ),
    "deleted-with-reason": (
        "hold_order",
        lambda w: {"status": "deleted", "hold_reason": "payment_required"},
    ),
    "quantity-zero": ("line", lambda w: {"quantity": 0}),
    "line-unit-cost-negative": ("line", lambda w: {"unit_cost": Decimal("-0.01")}),
    "line-shipping-negative": ("line", lambda w: {"shipping_cost": Decimal("-0.01")}),
    "order-cost-negative": ("order", lambda w: {"cost": Decimal("-0.01")}),
    "line-exactly-once": (
        "second_line",
        lambda w: {"external_product_id": w["line"].external_product_id},
    ),
    "two-boxes-one-number": ("second_order", lambda w: {"box_number": 1}),
    "box-number-zero": ("order", lambda w: {"box_number": 0}),
    "split-reason-invalid": ("second_order", lambda w: {"split_reason": "because"}),
    "charge-without-order": ("charge", lambda w: {"order": None}),
    "charge-positive": ("charge", lambda w: {"amount": Decimal("7.00")}),
    "deposit-turned-charge-without-order": ("deposit", lambda w: {"kind": "charge"}),
    "deposit-zero": ("deposit", lambda w: {"amount": Decimal("0.00")}),
    "deposit-negative": ("deposit", lambda w: {"amount": Decimal("-5.00")}),
    "ledger-kind-invalid": ("deposit", lambda w: {"kind": "gift"}),
    "notification-outcome-invalid": ("notification", lambda w: {"outcome": "maybe"}),
    "project-unit-cost-negative": ("project", lambda w: {"unit_cost": Decimal("-0.01")}),
    "project-shipping-cost-negative": ("project", lambda w: {"shipping_cost": Decimal("-1.00")}),
}

# The same rows with changes that keep every invariant: the control for each case above.
CONTROLS: dict[str, tuple[str, Changes]] = {
    "zero-balance": ("publisher", lambda w: {"balance": Decimal("0.00")}),
    "shipped": ("order", lambda w: {"status": "shipped"}),
    "hold-address": ("hold_order", lambda w: {"hold_reason": "address_incomplete"}),
    "hold-to-deleted": ("hold_order", lambda w: {"status": "deleted", "hold_reason": ""}),
    "back-on-hold": ("order", lambda w: {"status": "hold", "hold_reason": "payment_required"}),
    "quantity-one": ("line", lambda w: {"quantity": 1}),
    "cost-zero": ("order", lambda w: {"cost": Decimal("0.00")}),
    "line-free": ("line", lambda w: {"unit_cost": Decimal("0"), "shipping_cost": Decimal("0")}),
    "other-product": ("second_line", lambda w: {"external_product_id": "3"}),
    "other-project": (
        "second_line",
        lambda w: {
            "external_product_id": w["line"].external_product_id,
            "project": make_project(w["publisher"], "{9}").pk,
        },
    ),
    "box-number-three": ("second_order", lambda w: {"box_number": 3}),
    "split-reason-address": ("second_order", lambda w: {"split_reason": "another_address"}),
    # A box may be charged again (a line joined) and refunded more than once (SPEC §18).
    "second-charge-for-a-box": ("second_charge", lambda w: {"order": w["order"].pk}),
    "charge-zero": ("charge", lambda w: {"amount": Decimal("0.00")}),
    "charge-moved-to-hold-order": ("second_charge", lambda w: {"order": w["hold_order"].pk}),
    "adjustment-without-order": ("charge", lambda w: {"kind": "adjustment", "order": None}),
    "deposit-cent": ("deposit", lambda w: {"amount": Decimal("0.01")}),
    "outcome-pending": ("notification", lambda w: {"outcome": ""}),
    "outcome-no-match": ("notification", lambda w: {"outcome": "no_match"}),
    "free-project": ("project", lambda w: {"unit_cost": Decimal("0"), "shipping_cost": 0}),
}


def orm_changes(model: type[models.Model], changes: dict[str, object]) -> dict[str, object]:
    """Return the changes keyed by attname (`order_id`), as `update()` takes pks that way."""
    return {model._meta.get_field(name).attname: value for name, value in changes.items()}


def update_with_orm(row: models.Model, changes: dict[str, object]) -> None:
    model = type(row)
    model.objects.filter(pk=row.pk).update(**orm_changes(model, changes))


def update_with_sql(row: models.Model, changes: dict[str, object]) -> None:
    model = type(row)
    quote = connection.ops.quote_name
    assignments = ", ".join(f"{quote(model._meta.get_field(name).column)} = %s" for name in changes)
    sql = f"UPDATE {quote(model._meta.db_table)} SET {assignments} WHERE {quote('id')} = %s"
    with connection.cursor() as cursor:
        cursor.execute(sql, [*changes.values(), row.pk])


def snapshot(row: models.Model) -> dict[str, object]:
    fresh = type(row).objects.get(pk=row.pk)
    return {f.attname: getattr(fresh, f.attname) for f in type(row)._meta.concrete_fields}


UPDATERS = {"orm": update_with_orm, "sql": update_with_sql}


@pytest.mark.parametrize("how", UPDATERS)
@pytest.mark.parametrize("case", VIOLATIONS)
def test_an_update_breaking_an_invariant_is_refused(world, case, how):
    target, make_changes = VIOLATIONS[case]
    row = world[target]
    changes = make_changes(world)
    before = snapshot(row)
    with pytest.raises(IntegrityError), transaction.atomic():
        UPDATERS[how](row, changes)
    assert snapshot(row) == before


@pytest.mark.parametrize("how", UPDATERS)
@pytest.mark.parametrize("case", CONTROLS)
def test_an_update_keeping_the_invariants_is_accepted(world, case, how):
    target, make_changes = CONTROLS[case]
    row = world[target]
    changes = make_changes(world)
    with transaction.atomic():
        UPDATERS[how](row, changes)
    after = snapshot(row)
    for attname, value in orm_changes(type(row), changes).items():
        assert after[attname] == value, attname


def test_a_relative_balance_decrement_below_zero_is_refused(world):
    """A conditional charge (`SET balance = balance - cost`) can never commit below zero."""
    publisher = Publisher.objects.get(pk=world["publisher"].pk)
    quote = connection.ops.quote_name
    sql = (
        f"UPDATE {quote(Publisher._meta.db_table)} SET {quote('balance')} = {quote('balance')} - %s"
        f" WHERE {quote('id')} = %s"
    )
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, [publisher.balance + Decimal("0.01"), publisher.pk])
    assert Publisher.objects.get(pk=publisher.pk).balance == publisher.balance
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, [publisher.balance, publisher.pk])
    assert Publisher.objects.get(pk=publisher.pk).balance == Decimal("0.00")


@pytest.mark.postgres
def test_check_constraints_are_validated_on_postgresql():
    """Every declared CHECK exists as a validated constraint, so no old row escapes it."""
    names = {
        c.name
        for model in (Publisher, Project, Order, Notification, LedgerEntry)
        for c in model._meta.constraints
        if isinstance(c, models.CheckConstraint)
    }
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT conname, contype, convalidated FROM pg_constraint WHERE conname = ANY(%s)",
            [sorted(names)],
        )
        found = {name: (kind, valid) for name, kind, valid in cursor.fetchall()}
    assert found == dict.fromkeys(names, ("c", True))


@pytest.mark.parametrize(
    "model", [Publisher, Project, Order, Notification, LedgerEntry], ids=lambda m: m.__name__
)
def test_every_declared_constraint_exists_in_the_database(model):
    """The migrations created each named constraint (introspection reads the live schema)."""
    with connection.cursor() as cursor:
        present = connection.introspection.get_constraints(cursor, model._meta.db_table)
    declared = {constraint.name for constraint in model._meta.constraints}
    assert declared
    assert declared <= set(present)
