"""The two references every Notify URL figure is divided by.

`fixed_json` is the floor of the stack (request in, small JSON out); `insert_one_row` adds one
INSERT with its commit, the least a receiver that stores what it gets can do.
"""

from __future__ import annotations

from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt

TABLE = "bench_row"
CREATE_TABLE = f"CREATE TABLE IF NOT EXISTS {TABLE} (id bigserial PRIMARY KEY, body bytea NOT NULL)"


@csrf_exempt
def fixed_json(request: HttpRequest) -> JsonResponse:
    """Read the body and answer a constant document."""
    request.read()
    return JsonResponse({"outcome": "fixed"})


@csrf_exempt
def insert_one_row(request: HttpRequest) -> JsonResponse:
    """Store the body in one row (autocommit: one INSERT, one commit) and answer its id."""
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {TABLE} (body) VALUES (%s) RETURNING id", [request.read()])  # noqa: S608
        (row_id,) = cursor.fetchone()
    return JsonResponse({"outcome": "stored", "id": row_id})
