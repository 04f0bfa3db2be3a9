"""Helpers for the partner-event tests."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from .conftest import ON_POSTGRES


@pytest.fixture
def positioned(connection):
    """Events get their position at COMMIT on PostgreSQL, and a test's transaction never
    commits: position them as they are written instead."""
    if ON_POSTGRES:
        connection.execute(text("SET CONSTRAINTS events_assign_position IMMEDIATE"))
    return connection


def feed(client, caller, **params):
    response = client.get("/api/v1/events", query_string=params, headers=caller.headers)
    assert response.status_code == 200, response.json
    return response.json


def head_cursor(client, caller) -> str:
    """The cursor after everything committed so far."""
    cursor = "0"
    while True:
        page = feed(client, caller, after=cursor, limit=1000)
        if not page["items"] and page["next_cursor"] == cursor:
            return cursor
        cursor = page["next_cursor"]


def all_after(client, caller, cursor, **params):
    items = []
    while True:
        page = feed(client, caller, after=cursor, **params)
        items += page["items"]
        if page["next_cursor"] == cursor:
            return items
        cursor = page["next_cursor"]
