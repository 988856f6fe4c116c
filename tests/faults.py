"""A fault the database itself raises: order events refused, as a broken disk would."""

from __future__ import annotations

from django.db import connection


def install_failing_trigger() -> None:
    """Make the database refuse every order event (PostgreSQL or SQLite)."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "CREATE FUNCTION refuse_event() RETURNS trigger AS $$ BEGIN "
                "RAISE EXCEPTION 'injected fault'; END $$ LANGUAGE plpgsql"
            )
            cursor.execute(
                "CREATE TRIGGER refuse_event BEFORE INSERT ON fulfillment_orderevent "
                "FOR EACH ROW EXECUTE FUNCTION refuse_event()"
            )
        else:
            cursor.execute(
                "CREATE TRIGGER refuse_event BEFORE INSERT ON fulfillment_orderevent "
                "BEGIN SELECT RAISE(ABORT, 'injected fault'); END"
            )


def remove_failing_trigger() -> None:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("DROP TRIGGER refuse_event ON fulfillment_orderevent")
            cursor.execute("DROP FUNCTION refuse_event()")
        else:
            cursor.execute("DROP TRIGGER refuse_event")
