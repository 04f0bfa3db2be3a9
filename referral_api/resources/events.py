"""The change feed."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint

from ..db import db
from ..schemas.events import EventFeedSchema, EventQueryArgsSchema
from ..security import current_actor
from ..services import events
from .common import authenticated, query_args

blp = Blueprint(
    "events",
    __name__,
    url_prefix="/api/v1/events",
    description="Change feed: the events you may see, in commit order.",
)


@blp.route("")
class Events(MethodView):
    @authenticated(blp)
    @query_args(blp, EventQueryArgsSchema)
    @blp.response(200, EventFeedSchema)
    @blp.doc(operationId="list_events")
    def get(self, args: dict[str, Any]) -> events.FeedPage:
        """Events after a cursor, in commit order; pass `next_cursor` back as `after`."""
        return events.feed(db.session, actor=current_actor(), **args)
