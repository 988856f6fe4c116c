"""SPEC §8: a publisher's user sees and changes only that publisher's objects in the admin."""

from __future__ import annotations

import pytest
from django.apps import apps
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse

from fulfillment.models import Order, OrderStatus, Project, Publisher
from tests.admin_world import World, assert_no_secrets
from tests.factories import make_publisher

pytestmark = pytest.mark.django_db

MODELS = ("order", "project", "notification", "ledgerentry", "publisher")


def b_objects(world: World) -> dict[str, int]:
    """Return the pk of one of B's objects per admin model."""
    return {
        "order": world.b_hold.pk,
        "project": world.b_project.pk,
        "notification": world.b_no_match.pk,
        "ledgerentry": world.b_ledger.pk,
        "publisher": world.b.pk,
    }


@pytest.mark.parametrize("model", MODELS)
def test_changelist_shows_no_other_publisher_rows(world, a_client, model):
    response = a_client.get(reverse(f"admin:fulfillment_{model}_changelist"))
    assert response.status_code == 200
    assert_no_secrets(response, world.b_secrets)
    shown = set(response.context["cl"].result_list.values_list("pk", flat=True))
    assert b_objects(world)[model] not in shown
    assert shown, "A's own rows are listed"


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("view", ["change", "delete", "history"])
def test_other_publisher_object_urls_answer_404(world, a_client, model, view):
    url = reverse(f"admin:fulfillment_{model}_{view}", args=[b_objects(world)[model]])
    response = a_client.get(url)
    assert response.status_code == 404
    assert_no_secrets(response, world.b_secrets)
    assert a_client.post(url, {"post": "yes"}).status_code == 404


def test_missing_object_answers_404_like_a_foreign_one(a_client):
    url = reverse("admin:fulfillment_order_change", args=[987654])
    assert a_client.get(url).status_code == 404


@pytest.mark.parametrize(
    ("model_name", "field_name"),
    [
        ("orderline", "project"),
        ("order", "notification"),
        ("order", "publisher"),
        ("ledgerentry", "order"),
        ("ledgerentry", "publisher"),
        ("project", "publisher"),
        ("notification", "publisher"),
    ],
)
@pytest.mark.parametrize("term", ["", "Beta", "99887767", "Zebulon"])
def test_autocomplete_offers_no_other_publisher_rows(world, a_client, model_name, field_name, term):
    response = a_client.get(
        "/admin/autocomplete/",
        {
            "app_label": "fulfillment",
            "model_name": model_name,
            "field_name": field_name,
            "term": term,
        },
    )
    assert response.status_code in (200, 403)
    assert_no_secrets(response, world.b_secrets)
    if response.status_code == 200:
        source = apps.get_model("fulfillment", model_name)
        remote = source._meta.get_field(field_name).related_model._meta.model_name
        ids = {int(row["id"]) for row in response.json()["results"]}
        assert not ids & b_ids(world)[remote]


def b_ids(world: World) -> dict[str, set[int]]:
    """Return the pks of all of B's rows per model."""
    return {
        "order": set(Order.objects.filter(publisher=world.b).values_list("pk", flat=True)),
        "project": {world.b_project.pk},
        "notification": set(world.b.notifications.values_list("pk", flat=True)),
        "publisher": {world.b.pk},
    }


def test_autocomplete_lists_own_rows(world, a_client):
    response = a_client.get(
        "/admin/autocomplete/",
        {
            "app_label": "fulfillment",
            "model_name": "orderline",
            "field_name": "project",
            "term": "",
        },
    )
    ids = {int(row["id"]) for row in response.json()["results"]}
    assert ids == set(world.a.projects.values_list("pk", flat=True))
    assert world.a_project.pk in ids


@pytest.mark.parametrize(
    ("model", "action", "ids"),
    [
        ("order", "release_orders", lambda w: [w.b_hold.pk]),
        ("order", "delete_orders", lambda w: [w.b_hold.pk]),
        ("order", "ship_orders", lambda w: [w.b_production.pk]),
        ("notification", "reprocess", lambda w: [w.b_no_match.pk, w.b_created.pk]),
    ],
)
def test_actions_posted_with_other_publisher_ids_change_nothing(
    world, a_client, model, action, ids
):
    before = world.b_state()
    response = a_client.post(
        reverse(f"admin:fulfillment_{model}_changelist"),
        {"action": action, "_selected_action": ids(world), "index": 0},
        follow=True,
    )
    assert response.status_code in (200, 403)
    assert_no_secrets(response, world.b_secrets)
    assert world.b_state() == before


def test_release_of_mixed_selection_touches_only_own_orders(world, a_client):
    before = world.b_state()
    a_client.post(
        reverse("admin:fulfillment_order_changelist"),
        {
            "action": "delete_orders",
            "_selected_action": [world.a_hold.pk, world.b_hold.pk],
            "confirmed": "yes",
        },
    )
    assert Order.objects.get(pk=world.a_hold.pk).status == OrderStatus.DELETED
    assert world.b_state() == before


def test_custom_admin_views_refuse_other_publisher_objects(world, a_client):
    before = world.b_state()
    reprocess = reverse("admin:fulfillment_notification_reprocess", args=[world.b_no_match.pk])
    assert a_client.post(reprocess).status_code == 404
    ship = reverse("admin:fulfillment_order_ship")
    assert a_client.post(ship, {"order": [world.b_production.pk]}).status_code == 403
    balance = reverse("admin:fulfillment_publisher_balance", args=[world.b.pk])
    assert a_client.post(balance, {"kind": "deposit", "amount": "5"}).status_code == 403
    assert world.b_state() == before


def test_filter_by_other_publisher_project_shows_nothing(world, a_client):
    url = reverse("admin:fulfillment_order_changelist")
    response = a_client.get(url, {"lines__project__id__exact": world.b_project.pk})
    assert response.status_code == 200
    assert_no_secrets(response, world.b_secrets)
    assert list(response.context["cl"].result_list) == []


def test_project_filter_offers_only_own_projects(world, a_client):
    response = a_client.get(reverse("admin:fulfillment_order_changelist"))
    content = response.content.decode()
    assert "Alpha Almanac" in content
    project_filter = next(
        spec for spec in response.context["cl"].filter_specs if spec.title == "project"
    )
    assert {pk for pk, _ in project_filter.lookup_choices} == set(
        world.a.projects.values_list("pk", flat=True)
    )


def test_filters_and_searches_for_other_publisher_strings_find_nothing(world, a_client):
    url = reverse("admin:fulfillment_order_changelist")
    for term in ("Zebulon", "99887767", "zebulon.q@beta.example"):
        response = a_client.get(url, {"q": term})
        assert list(response.context["cl"].result_list) == []
    response = a_client.get(reverse("admin:fulfillment_notification_changelist"), {"q": "99887768"})
    assert list(response.context["cl"].result_list) == []


def test_foreign_key_choices_are_scoped_for_a_user_of_two_publishers(world, a_client):
    gamma = make_publisher(name="Gamma Editions")
    gamma.users.add(world.a_user)
    response = a_client.get(reverse("admin:fulfillment_project_add"))
    choices = {pk for pk, _ in response.context["adminform"].form.fields["publisher"].choices if pk}
    assert {int(str(pk)) for pk in choices} == {world.a.pk, gamma.pk}
    assert_no_secrets(response, world.b_secrets)
    data = {
        "publisher": world.b.pk,
        "title": "Sneaky",
        "ecommerce_id_string": "",
        "is_active": "on",
    }
    response = a_client.post(reverse("admin:fulfillment_project_add"), data)
    assert response.status_code == 200  # the form refuses B as a choice
    assert not Project.objects.filter(title="Sneaky").exists()


def test_new_project_of_a_publisher_gets_their_publisher(world, a_client):
    response = a_client.get(reverse("admin:fulfillment_project_add"))
    assert "publisher" not in response.context["adminform"].form.fields
    data = {"publisher": world.b.pk, "title": "Mine", "ecommerce_id_string": "", "is_active": "on"}
    a_client.post(reverse("admin:fulfillment_project_add"), data)
    assert Project.objects.get(title="Mine").publisher == world.a


def test_account_page_refuses_another_publisher(world, a_client):
    """Naming a publisher the user is not linked to answers 404 (issue 8, finding 17)."""
    response = a_client.get(reverse("account"), {"publisher": world.b.idpub})
    assert response.status_code == 404
    assert_no_secrets(response, world.b_secrets)
    before = world.b_state()
    for name in ("account-rotate-key", "account-release-all"):
        response = a_client.post(reverse(name), {"publisher": world.b.idpub})
        assert response.status_code == 404
    assert world.b_state() == before
    assert Publisher.objects.get(pk=world.a.pk).notify_key == world.a.notify_key
    assert world.a.idpub in a_client.get(reverse("account")).content.decode()


def test_extra_model_permissions_do_not_widen_the_scope(world, a_client):
    world.a_user.user_permissions.set(
        Permission.objects.filter(content_type__app_label="fulfillment")
    )
    before = world.b_state()
    for model in MODELS:
        response = a_client.get(reverse(f"admin:fulfillment_{model}_changelist"))
        assert_no_secrets(response, world.b_secrets)
        change = reverse(f"admin:fulfillment_{model}_change", args=[b_objects(world)[model]])
        assert a_client.get(change).status_code == 404
    own = reverse("admin:fulfillment_publisher_change", args=[world.a.pk])
    a_client.post(own, {"name": "Renamed", "email": "x@example.com"})
    assert Publisher.objects.get(pk=world.a.pk).name == "Alpha Books"
    assert a_client.get(reverse("admin:fulfillment_order_add")).status_code == 403
    assert world.b_state() == before


def test_unlinked_staff_flagged_user_sees_nothing(world):
    lonely = type(world.a_user).objects.create_user("lonely", password="pw-12345-x", is_staff=True)
    lonely.user_permissions.set(Permission.objects.filter(codename__startswith="view_"))
    client = Client()
    client.force_login(lonely)
    for model in MODELS:
        response = client.get(reverse(f"admin:fulfillment_{model}_changelist"))
        assert list(response.context["cl"].result_list) == []
    response = client.get(reverse("account"))
    assert "not linked to a publisher" in response.content.decode()


def test_staff_see_every_publisher(world):
    client = Client()
    client.force_login(world.staff)
    response = client.get(reverse("admin:fulfillment_order_changelist"))
    content = response.content.decode()
    assert "Zebulon" in content and "Rosalind" in content
    for model, pk in b_objects(world).items():
        assert (
            client.get(reverse(f"admin:fulfillment_{model}_change", args=[pk])).status_code == 200
        )
    response = client.get(reverse("admin:fulfillment_order_changelist"))
    project_filter = next(s for s in response.context["cl"].filter_specs if s.title == "project")
    everyone = set(Project.objects.values_list("pk", flat=True))
    assert {pk for pk, _ in project_filter.lookup_choices} == everyone
