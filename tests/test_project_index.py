"""The SamCart id index (`ProjectCartId`) stays in step with projects, and matching uses it (§5)."""

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from fulfillment.ecommerce_ids import ERROR_INVALID
from fulfillment.models import Order, Project, ProjectCartId
from fulfillment.services.intake import matching_projects
from fulfillment.services.projects import (
    project_create,
    project_save,
    project_shared_ids,
    project_update,
)
from tests.factories import make_project, make_publisher

pytestmark = pytest.mark.django_db


def index_of(project: Project) -> set[str]:
    """Return the ids the index holds for `project`, checking each row's publisher."""
    rows = ProjectCartId.objects.filter(project=project)
    assert {row.publisher_id for row in rows} <= {project.publisher_id}
    return set(rows.values_list("external_id", flat=True))


def matched(publisher, *ids: str) -> dict[str, list[int]]:
    """Return matching_projects as {id: [project pk, ...]}."""
    found = matching_projects(publisher_id=publisher.pk, product_ids=tuple(ids))
    return {key: [p.pk for p in projects] for key, projects in found.items()}


def test_create_indexes_every_id_and_stores_the_normal_form():
    publisher = make_publisher()
    project = project_create(
        publisher=publisher, title="Bundle", ecommerce_id_string=" { 294010 }\n{298020} "
    )
    project.refresh_from_db()
    assert project.ecommerce_id_string == "{294010}{298020}"
    assert index_of(project) == {"294010", "298020"}
    assert matched(publisher, "294010", "298020") == {
        "294010": [project.pk],
        "298020": [project.pk],
    }


def test_create_with_a_bare_id_indexes_it():
    publisher = make_publisher()
    project = make_project(publisher, " 279813 ")
    project.refresh_from_db()
    assert project.ecommerce_id_string == "279813"
    assert index_of(project) == {"279813"}


def test_create_without_ids_indexes_nothing():
    project = make_project(make_publisher(), "")
    assert index_of(project) == set()


def test_create_with_a_malformed_string_saves_nothing_and_names_the_field():
    publisher = make_publisher()
    with pytest.raises(ValidationError) as caught:
        project_create(publisher=publisher, title="Broken", ecommerce_id_string="{294010")
    assert caught.value.message_dict == {"ecommerce_id_string": [ERROR_INVALID]}
    assert not Project.objects.filter(publisher=publisher).exists()
    assert not ProjectCartId.objects.filter(publisher=publisher).exists()


def test_a_malformed_string_is_reported_with_the_other_field_errors():
    publisher = make_publisher()
    with pytest.raises(ValidationError) as caught:
        project_create(publisher=publisher, title="", ecommerce_id_string="{1},{2}")
    assert set(caught.value.message_dict) == {"title", "ecommerce_id_string"}


def test_update_adds_and_removes_rows_to_match_the_new_ids():
    publisher = make_publisher()
    project = make_project(publisher, "{1}{2}{3}")
    kept_row = ProjectCartId.objects.get(project=project, external_id="2")
    project_update(project=project, ecommerce_id_string="{2}{4}")
    assert index_of(project) == {"2", "4"}
    # An id present before and after keeps its row (no churn).
    assert ProjectCartId.objects.get(project=project, external_id="2").pk == kept_row.pk
    assert matched(publisher, "1", "2", "3", "4") == {"2": [project.pk], "4": [project.pk]}


def test_update_from_bare_to_braced_form_keeps_the_same_row():
    project = make_project(make_publisher(), "279813")
    row = ProjectCartId.objects.get(project=project)
    project_update(project=project, ecommerce_id_string="{279813}")
    assert list(ProjectCartId.objects.filter(project=project)) == [row]


def test_clearing_the_string_removes_every_row():
    publisher = make_publisher()
    project = make_project(publisher, "{1}{2}")
    project_update(project=project, ecommerce_id_string="   ")
    project.refresh_from_db()
    assert project.ecommerce_id_string == ""
    assert index_of(project) == set()
    assert matched(publisher, "1", "2") == {}


def test_a_refused_update_leaves_project_and_index_unchanged():
    publisher = make_publisher()
    project = make_project(publisher, "{1}{2}")
    with pytest.raises(ValidationError) as caught:
        project_update(project=Project.objects.get(pk=project.pk), ecommerce_id_string="{1}{1}")
    assert "ecommerce_id_string" in caught.value.message_dict
    project.refresh_from_db()
    assert project.ecommerce_id_string == "{1}{2}"
    assert index_of(project) == {"1", "2"}


def test_update_refuses_fields_that_are_not_editable():
    project = make_project(make_publisher(), "1")
    with pytest.raises(TypeError, match="publisher"):
        project_update(project=project, publisher=make_publisher())


def test_project_save_reindexes_a_changed_instance():
    """The admin path: the form sets attributes, then calls project_save."""
    publisher = make_publisher()
    project = make_project(publisher, "{1}")
    project.ecommerce_id_string = "{5}{6}"
    project_save(project=project)
    assert index_of(project) == {"5", "6"}
    assert matched(publisher, "1", "5") == {"5": [project.pk]}


def test_deleting_a_project_deletes_its_rows():
    publisher = make_publisher()
    project = make_project(publisher, "{1}{2}")
    other = make_project(publisher, "{2}")
    pk = project.pk
    project.delete()
    assert not ProjectCartId.objects.filter(project_id=pk).exists()
    assert matched(publisher, "1", "2") == {"2": [other.pk]}


def test_moving_a_project_to_another_publisher_moves_its_rows():
    first, second = make_publisher(), make_publisher()
    project = make_project(first, "{1}{2}")
    project.publisher = second
    project_save(project=project)
    assert set(
        ProjectCartId.objects.filter(project=project).values_list("publisher_id", flat=True)
    ) == {second.pk}
    assert matched(first, "1", "2") == {}
    assert matched(second, "1", "2") == {"1": [project.pk], "2": [project.pk]}


def test_moving_and_changing_ids_at_once():
    first, second = make_publisher(), make_publisher()
    project = make_project(first, "{1}{2}")
    project.publisher = second
    project.ecommerce_id_string = "{2}{3}"
    project_save(project=project)
    assert index_of(project) == {"2", "3"}
    assert matched(first, "1", "2", "3") == {}
    assert matched(second, "1", "2", "3") == {"2": [project.pk], "3": [project.pk]}


def test_inactive_projects_are_not_matched_and_come_back_when_reactivated():
    publisher = make_publisher()
    active = make_project(publisher, "{1}")
    inactive = make_project(publisher, "{1}{2}", is_active=False)
    assert index_of(inactive) == {"1", "2"}  # indexed, but filtered out by matching
    assert matched(publisher, "1", "2") == {"1": [active.pk]}
    project_update(project=inactive, is_active=True)
    assert matched(publisher, "1", "2") == {"1": [active.pk, inactive.pk], "2": [inactive.pk]}
    project_update(project=active, is_active=False)
    assert matched(publisher, "1") == {"1": [inactive.pk]}


def test_one_id_in_two_projects_of_a_publisher_finds_both():
    publisher = make_publisher()
    workbook = make_project(publisher, "{294010}", title="Workbook")
    bundle = make_project(publisher, "{294010}{298020}", title="Bundle")
    assert matched(publisher, "294010") == {"294010": sorted([workbook.pk, bundle.pk])}
    assert [p.pk for p in project_shared_ids(project=bundle)["294010"]] == [workbook.pk]
    assert "298020" not in project_shared_ids(project=bundle)


def test_one_id_in_two_publishers_each_finds_only_its_own():
    first, second = make_publisher(), make_publisher()
    mine = make_project(first, "279813")
    theirs = make_project(second, "279813")
    assert matched(first, "279813") == {"279813": [mine.pk]}
    assert matched(second, "279813") == {"279813": [theirs.pk]}
    assert project_shared_ids(project=mine) == {}


def test_matching_is_exact_and_textual():
    publisher = make_publisher()
    project = make_project(publisher, "{279813}{abc}")
    assert matched(publisher, "2798", "27981", "2798130", "0279813", "ABC") == {}
    assert matched(publisher, "279813", "abc") == {"279813": [project.pk], "abc": [project.pk]}
    # An id that came as a number is looked up as its text.
    found = matching_projects(publisher_id=publisher.pk, product_ids=(279813,))
    assert {key: [p.pk for p in projects] for key, projects in found.items()} == {
        "279813": [project.pk]
    }


def test_matching_nothing_asked_finds_nothing():
    publisher = make_publisher()
    make_project(publisher, "1")
    assert matched(publisher) == {}


def _many_projects(publisher, count: int) -> None:
    for n in range(count):
        project_create(
            publisher=publisher,
            title=f"Project {n:04}",
            ecommerce_id_string=f"{{p{n}}}{{shared}}",
            unit_cost=Decimal("1.00"),
        )


@pytest.mark.parametrize("count", [1, 500])
def test_matching_costs_one_query_whatever_the_number_of_projects(count):
    publisher = make_publisher()
    noise = make_publisher()
    _many_projects(publisher, count)
    _many_projects(noise, count)
    wanted = ("p0", f"p{count - 1}", "missing")
    with CaptureQueriesContext(connection) as queries:
        found = matching_projects(publisher_id=publisher.pk, product_ids=wanted)
        titles = {key: [p.title for p in projects] for key, projects in found.items()}
    assert len(queries) == 1
    assert titles == {"p0": ["Project 0000"], f"p{count - 1}": [f"Project {count - 1:04}"]}
    # The query looks ids up in the index; it never scans the projects' strings.
    sql = queries.captured_queries[0]["sql"]
    assert ProjectCartId._meta.db_table in sql
    assert "ecommerce_id_string" not in sql.split("WHERE", 1)[1]


def test_a_bundle_id_shared_by_500_projects_still_costs_one_query(django_assert_num_queries):
    publisher = make_publisher()
    _many_projects(publisher, 500)
    with django_assert_num_queries(1):
        found = matching_projects(publisher_id=publisher.pk, product_ids=("shared",))
        assert len({p.pk for p in found["shared"]}) == 500


# --- Issue 8, finding 9: the index follows the project whatever writes it (SPEC §5) ---------
# New names are imported inside the tests, so that this file runs against the code before the
# fix and each test fails there on its behaviour.


def _database_warnings() -> list:
    """Run the checks tagged `database`, as `manage.py check --database default` does."""
    from django.core import checks

    return [
        m
        for m in checks.run_checks(tags=[checks.Tags.database], databases=["default"])
        if m.id and m.id.startswith("fulfillment.")
    ]


def _raw_sql(sql: str, params: list) -> None:
    """Write behind the ORM's back, as a data migration's SQL or a DBA would."""
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def test_objects_create_matches_at_once():
    publisher = make_publisher()
    project = Project.objects.create(
        publisher=publisher, title="Imported", ecommerce_id_string="{279813}{294010}"
    )
    assert index_of(project) == {"279813", "294010"}
    assert matched(publisher, "279813") == {"279813": [project.pk]}


def test_a_project_made_by_objects_create_produces_orders_on_the_next_notification(client):
    from tests.factories import post_notify, sample

    publisher = make_publisher(balance="500.00")
    project = Project.objects.create(
        publisher=publisher,
        title="Almanac",
        unit_cost=Decimal("5.00"),
        shipping_cost=Decimal("2.00"),
        prices_confirmed=True,
        ecommerce_id_string="279813",
    )
    answer = post_notify(client, publisher, sample("order_products_array"))
    assert answer.json()["outcome"] == "created"
    order = Order.objects.get(lines__project=project)
    assert (order.status, order.cost) == ("in_production", Decimal("7.00"))


def test_save_follows_every_change_and_skips_the_index_when_it_cannot_have_moved():
    publisher = make_publisher()
    project = Project(publisher=publisher, title="Plain save", ecommerce_id_string="{1}{2}")
    project.save()
    assert index_of(project) == {"1", "2"}
    project.ecommerce_id_string = "{2}{3}"
    project.save(update_fields=["ecommerce_id_string"])
    assert index_of(project) == {"2", "3"}
    project.title = "Renamed"
    with CaptureQueriesContext(connection) as queries:
        project.save(update_fields=["title"])
    assert not any(ProjectCartId._meta.db_table in q["sql"] for q in queries.captured_queries)


def test_get_or_create_and_update_or_create_index_too():
    publisher = make_publisher()
    project, _ = Project.objects.get_or_create(
        publisher=publisher, title="G", defaults={"ecommerce_id_string": "7"}
    )
    assert index_of(project) == {"7"}
    project, _ = Project.objects.update_or_create(
        pk=project.pk, defaults={"ecommerce_id_string": "{8}{9}"}
    )
    assert index_of(project) == {"8", "9"}


def test_bulk_create_indexes_every_project():
    publisher = make_publisher()
    created = Project.objects.bulk_create(
        Project(publisher=publisher, title=f"Catalogue {n}", ecommerce_id_string=f"{{c{n}}}{{x}}")
        for n in range(3)
    )
    assert [index_of(p) for p in created] == [{"c0", "x"}, {"c1", "x"}, {"c2", "x"}]
    assert sorted(matched(publisher, "x")["x"]) == sorted(p.pk for p in created)


def test_queryset_update_and_bulk_update_re_index():
    first, second = make_publisher(), make_publisher()
    project = make_project(first, "{1}{2}")
    other = make_project(first, "{5}")
    Project.objects.filter(pk=project.pk).update(ecommerce_id_string="{2}{3}")
    assert index_of(project) == {"2", "3"}
    Project.objects.filter(pk=project.pk).update(publisher=second)
    assert matched(first, "2", "3") == {}
    assert matched(second, "2", "3") == {"2": [project.pk], "3": [project.pk]}
    project.refresh_from_db()
    other.refresh_from_db()
    project.ecommerce_id_string, other.ecommerce_id_string = "4", "{5}{6}"
    Project.objects.bulk_update([project, other], ["ecommerce_id_string"])
    assert (index_of(project), index_of(other)) == ({"4"}, {"5", "6"})


def test_an_update_of_other_fields_leaves_the_index_alone():
    project = make_project(make_publisher(), "{1}")
    with CaptureQueriesContext(connection) as queries:
        Project.objects.filter(pk=project.pk).update(title="Only the title")
    assert len(queries) == 1


def test_queryset_delete_takes_the_rows_with_it():
    publisher = make_publisher()
    project = make_project(publisher, "{1}{2}")
    pk = project.pk
    Project.objects.filter(pk=pk).delete()
    assert not ProjectCartId.objects.filter(project_id=pk).exists()


def _fixture(tmp_path, objects: list[dict]) -> str:
    import json

    path = tmp_path / "catalogue.json"
    path.write_text(json.dumps(objects))
    return str(path)


def _project_fixture(publisher, pk: int, ids: str) -> dict:
    return {
        "model": "fulfillment.project",
        "pk": pk,
        "fields": {
            "publisher": publisher.pk,
            "title": f"From TrepStar's catalogue {pk}",
            "ecommerce_id_string": ids,
            "unit_cost": "5.00",
            "shipping_cost": "2.00",
            "is_active": True,
            "created_at": "2026-01-02T03:04:05Z",
            "updated_at": "2026-01-02T03:04:05Z",
        },
    }


def test_loaddata_of_a_project_fixture_matches_at_once(tmp_path):
    from django.core.management import call_command

    publisher = make_publisher()
    path = _fixture(tmp_path, [_project_fixture(publisher, 990001, "{279813}{abc}")])
    call_command("loaddata", path, verbosity=0)
    assert matched(publisher, "279813", "abc") == {"279813": [990001], "abc": [990001]}


def test_loaddata_of_a_dump_with_index_rows_round_trips(tmp_path):
    """dumpdata writes the index rows too: loading them must not collide with the new ones."""
    from django.core.management import call_command

    publisher = make_publisher()
    project = make_project(publisher, "{1}{2}")
    dump = tmp_path / "dump.json"
    call_command("dumpdata", "fulfillment.project", "fulfillment.projectcartid", output=str(dump))
    Project.objects.filter(pk=project.pk).delete()
    call_command("loaddata", str(dump), verbosity=0)
    assert index_of(project) == {"1", "2"}
    assert matched(publisher, "1", "2") == {"1": [project.pk], "2": [project.pk]}


def test_loaddata_of_a_stale_index_row_ends_with_the_string(tmp_path):
    from django.core.management import call_command

    publisher = make_publisher()
    stale = {
        "model": "fulfillment.projectcartid",
        "pk": 990101,
        "fields": {"publisher": publisher.pk, "project": 990002, "external_id": "gone"},
    }
    path = _fixture(tmp_path, [_project_fixture(publisher, 990002, "{kept}"), stale])
    call_command("loaddata", path, verbosity=0)
    assert matched(publisher, "kept", "gone") == {"kept": [990002]}


def test_raw_sql_drift_is_reported_by_the_check_and_repaired_by_the_command():
    from io import StringIO

    from django.core.management import call_command

    publisher = make_publisher()
    changed = make_project(publisher, "{1}{2}", title="Changed behind our back")
    emptied = make_project(publisher, "{3}", title="Rows deleted")
    healthy = make_project(publisher, "{4}", title="Healthy")
    _raw_sql(
        f"UPDATE {Project._meta.db_table} SET ecommerce_id_string = %s WHERE id = %s",
        ["{2}{9}", changed.pk],
    )
    _raw_sql(f"DELETE FROM {ProjectCartId._meta.db_table} WHERE project_id = %s", [emptied.pk])

    warnings = _database_warnings()
    assert [w.id for w in warnings] == ["fulfillment.W001"]
    assert "2 project(s)" in warnings[0].msg
    assert "Changed behind our back" in warnings[0].msg and "Rows deleted" in warnings[0].msg
    assert "Healthy" not in warnings[0].msg
    assert "repair_project_index" in warnings[0].hint

    out = StringIO()
    call_command("repair_project_index", "--dry-run", stdout=out)
    assert "Would repair 2 project(s)" in out.getvalue()
    assert index_of(emptied) == set()  # a dry run changes nothing

    out = StringIO()
    call_command("repair_project_index", stdout=out)
    assert "Repaired 2 project(s)" in out.getvalue()
    assert (index_of(changed), index_of(emptied), index_of(healthy)) == ({"2", "9"}, {"3"}, {"4"})
    assert _database_warnings() == []
    out = StringIO()
    call_command("repair_project_index", stdout=out)
    assert "matches every project" in out.getvalue()


def test_a_malformed_string_written_behind_the_model_is_reported():
    from io import StringIO

    from django.core.management import call_command

    publisher = make_publisher()
    project = make_project(publisher, "{1}", title="Broken import")
    _raw_sql(
        f"UPDATE {Project._meta.db_table} SET ecommerce_id_string = %s WHERE id = %s",
        ["{1", project.pk],
    )
    ids = sorted(w.id for w in _database_warnings())
    assert ids == ["fulfillment.W001", "fulfillment.W002"]
    out = StringIO()
    call_command("repair_project_index", stdout=out)
    assert "malformed eCommerceIDString" in out.getvalue()
    assert index_of(project) == set()  # it lists nothing it can be trusted with
    assert [w.id for w in _database_warnings()] == ["fulfillment.W002"]


def test_drift_detection_costs_two_queries_whatever_the_number_of_projects():
    from fulfillment.models.projects import index_drift

    publisher = make_publisher()
    _many_projects(publisher, 60)
    with CaptureQueriesContext(connection) as queries:
        assert index_drift() == []
    assert len(queries) == 2


def test_a_data_migration_s_projects_are_indexed_by_the_next_migrate():
    """Historical models have no signals: `migrate` repairs after them (post_migrate)."""
    from django.core.management import call_command
    from django.db.migrations.executor import MigrationExecutor

    publisher = make_publisher()
    executor = MigrationExecutor(connection)
    state = executor.loader.project_state()  # the models as the latest migration sees them
    historical = state.apps.get_model("fulfillment", "Project")
    made = historical.objects.create(
        publisher_id=publisher.pk, title="From a data migration", ecommerce_id_string="279813"
    )
    assert [w.id for w in _database_warnings()] == ["fulfillment.W001"]

    call_command("migrate", verbosity=0, interactive=False)

    assert matched(publisher, "279813") == {"279813": [made.pk]}
    assert _database_warnings() == []


def test_demo_data_ends_with_a_repaired_index():
    from io import StringIO

    from django.core.management import call_command

    publisher = make_publisher()
    project = make_project(publisher, "{1}")
    _raw_sql(f"DELETE FROM {ProjectCartId._meta.db_table} WHERE project_id = %s", [project.pk])
    call_command("demo_data", stdout=StringIO())
    assert index_of(project) == {"1"}
