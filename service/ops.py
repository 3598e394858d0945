"""Operations endpoints: `/healthz` (alive), `/readyz` (can serve), `/metrics` (Prometheus).

None of them says anything about a patient: fixed words, check names and counters.
"""

from __future__ import annotations

import json
import logging

import flask
from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError

from cds_hooks.metrics import exposition
from mappings.codesets import CodeSets

logger = logging.getLogger(__name__)


def _json(body: object, status: int = 200) -> flask.Response:
    response = flask.Response(json.dumps(body), status=status, mimetype="application/json")
    response.headers["Cache-Control"] = "no-store"
    return response


def create_ops_blueprint(database: Engine, codes: CodeSets) -> flask.Blueprint:
    bp = flask.Blueprint("ops", __name__)

    @bp.get("/healthz")
    def healthz() -> flask.Response:
        return _json({"status": "ok"})

    @bp.get("/readyz")
    def readyz() -> flask.Response:
        checks = {"database": _database_reachable(database), "codesets": _codes_loaded(codes)}
        ready = all(checks.values())
        body = {"status": "ready" if ready else "unavailable", "checks": checks}
        return _json(body, 200 if ready else 503)

    @bp.get("/metrics")
    def metrics() -> flask.Response:
        payload, content_type = exposition()
        return flask.Response(payload, content_type=content_type)

    return bp


def _database_reachable(database: Engine) -> bool:
    try:
        with database.connect() as connection:
            connection.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        # The type only: a driver message may quote the URL and its password.
        logger.warning("readiness: database unreachable (%s)", type(exc).__name__)
        return False
    return True


def _codes_loaded(codes: CodeSets) -> bool:
    return bool(codes.observation_codes())
