"""`relapse-cds`: assess bundles, serve the CDS Hooks service, try it against a FHIR server."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any, TextIO

from mappings.codesets import CodeSets, load_codesets
from mappings.errors import InvalidBundle
from mappings.extract import resources_from_bundle
from service.domain import PRIMARY_SCHEMES
from service.engine import assess_resources
from service.settings import local_today


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    command: int = args.run(args)
    return command


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="relapse-cds", description=__doc__)
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    assess = commands.add_parser(
        "assess",
        help="assess FHIR Bundles (JSON files); one JSON line per path",
        description="Prints the assessment JSON of each Bundle. With several paths, one JSON "
        "object per line in order; a path that cannot be assessed gives "
        '{"path": ..., "error": ...} on its line and the exit code 1.',
    )
    assess.add_argument("paths", nargs="+", type=Path, metavar="PATH")
    assess.add_argument(
        "--as-of", type=_date, default=None, help="the date of the assessment (default: today)"
    )
    assess.add_argument("--primary", choices=PRIMARY_SCHEMES, default="bfm")
    assess.add_argument("--codes", type=Path, help="an institution's extra code sets (JSON)")
    assess.set_defaults(run=_assess)

    serve = commands.add_parser("serve", help="serve the CDS Hooks service with gunicorn")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8080)
    serve.add_argument("--workers", type=int, default=2)
    serve.add_argument(
        "--threads", type=int, default=16, help="threads a worker (calls it serves at once)"
    )
    serve.set_defaults(run=_serve)

    sandbox = commands.add_parser(
        "sandbox",
        help="load the synthetic patients into a FHIR server, call the hook, print the cards",
    )
    sandbox.add_argument("--fhir-server", required=True)
    sandbox.add_argument(
        "--service", help="base URL of a running service (default: an in-process app)"
    )
    sandbox.set_defaults(run=_sandbox)

    demo = commands.add_parser(
        "demo", help="run the service, a local FHIR server and a test EHR (`make run`)"
    )
    demo.add_argument("--sekmet", required=True, help="path of the sekmet executable")
    demo.add_argument("--port", type=int, default=8080)
    demo.set_defaults(run=_demo)
    return parser


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def _assess(args: argparse.Namespace) -> int:
    try:
        codes = load_codesets(args.codes)
    except (OSError, ValueError) as exc:
        print(f"relapse-cds: cannot load code sets: {exc}", file=sys.stderr)
        return 2
    as_of = args.as_of or local_today()
    failed = False
    for path in args.paths:
        line = _assess_path(path, codes, args.primary, as_of)
        failed = failed or "error" in line
        _write(sys.stdout, line, pretty=len(args.paths) == 1)
    return 1 if failed else 0


def _assess_path(path: Path, codes: CodeSets, primary: str, as_of: date) -> dict[str, Any]:
    try:
        bundle = json.loads(path.read_bytes())
    except OSError as exc:
        return {"path": str(path), "error": f"cannot read the file: {exc.strerror or exc}"}
    except ValueError as exc:
        return {"path": str(path), "error": f"not JSON: {exc}"}
    try:
        resources = resources_from_bundle(bundle)
    except InvalidBundle as exc:
        return {"path": str(path), "error": str(exc)}
    result = assess_resources(resources, codes=codes, primary=primary, as_of=as_of)
    return result.assessment.to_json()


def _write(out: TextIO, obj: dict[str, Any], *, pretty: bool) -> None:
    out.write(json.dumps(obj, indent=2 if pretty else None, ensure_ascii=False) + "\n")
    out.flush()


def _serve(args: argparse.Namespace) -> int:
    from service.server import serve

    try:
        serve(args.host, args.port, args.workers, args.threads)
    except (OSError, ValueError) as exc:  # settings, code sets, trusted issuers, the port
        print(f"relapse-cds: cannot start: {exc}", file=sys.stderr)
        return 2
    return 0


def _sandbox(args: argparse.Namespace) -> int:
    from service.sandbox import run_sandbox

    return run_sandbox(args.fhir_server, args.service, sys.stdout)


def _demo(args: argparse.Namespace) -> int:
    from service.demo.runner import run_demo

    return run_demo(Path(args.sekmet), args.port, sys.stdout)


if __name__ == "__main__":
    sys.exit(main())
