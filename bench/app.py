"""The app the benchmark serves: the real one plus a bench-only floor route."""

from __future__ import annotations

import json
import uuid

import flask

from service.app import create_app

FLOOR_CARD = {
    "cards": [
        {
            "uuid": str(uuid.uuid4()),
            "summary": "floor",
            "indicator": "info",
            "source": {"label": "bench"},
        }
    ]
}


def build() -> flask.Flask:
    """gunicorn factory: settings from RELAPSE_CDS_* as `relapse-cds serve` reads them."""
    app = create_app()
    floor = flask.Blueprint("bench_floor", __name__)
    body = json.dumps(FLOOR_CARD)

    @floor.post("/bench/floor")
    def _floor() -> flask.Response:
        # Read the body as the hook does, so the floor carries the same transport cost.
        flask.request.get_data()
        return flask.Response(body, mimetype="application/json")

    app.register_blueprint(floor)
    return app
