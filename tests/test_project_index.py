"""The SamCart id index (`ProjectCartId`) stays in step with projects, and matching uses it (§5)."""

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from fulfillment.ecommerce_ids import ERROR_INVALID
from fulfillment.models import Project, ProjectCartId
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
