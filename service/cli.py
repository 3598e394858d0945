"""`relapse-cds`: assess bundles, serve the CDS Hooks service, try it against a FHIR server."""

from __future__ import annotations

import argparse
import json
import sys
import unicodedata
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any, TextIO

from mappings.codesets import CodeSets, load_codesets
from mappings.errors import InvalidBundle
from mappings.extract import resources_from_bundle
from service.cards import DISCLAIMER, scheme_name
from service.domain import primary_schemes
from service.domain.assessment import Addition, Plan
from service.domain.response import Response
from service.domain.schemes import get_scheme
from service.domain.words import (
    PATTERN_WORDS,
    TIMING_WORDS,
    addition_words,
    group_words,
    input_names,
    plan_words,
    response_words,
)
from service.engine import assess_resources
from service.settings import local_today

FORMATS = ("text", "json")
BAR_WIDTH = 30


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    command: int = args.run(args)
    return command


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="relapse-cds", description=__doc__)
    commands = parser.add_subparsers(
        required=True, metavar="COMMAND", help="run `relapse-cds COMMAND --help` for its options"
    )

    assess = commands.add_parser(
        "assess",
        help="assess FHIR Bundles (JSON files): a summary for a person, or the assessment JSON",
        description="Assesses each Bundle. --format text prints a short summary (the groups by "
        "scheme, the plan, what is missing); --format json prints the assessment JSON, with "
        "several paths one JSON object per line in order. A path that cannot be assessed gives "
        '{"path": ..., "error": ...} on its line (text: "PATH: cannot assess: ...") and the '
        "exit code 1. With several paths and stderr a terminal, a progress bar shows on stderr.",
    )
    assess.add_argument(
        "paths",
        nargs="+",
        type=Path,
        metavar="PATH",
        help="a FHIR R4 Bundle (JSON) holding one Patient and their record",
    )
    assess.add_argument(
        "--as-of",
        type=_date,
        default=None,
        metavar="DATE",
        help="the date of the assessment (default: today)",
    )
    assess.add_argument(
        "--primary",
        choices=primary_schemes(),
        default="bfm",
        help="the scheme the pathway follows (default: %(default)s)",
    )
    assess.add_argument(
        "--codes", type=Path, metavar="FILE", help="an institution's extra code sets (JSON)"
    )
    assess.add_argument(
        "--format",
        choices=FORMATS,
        default=None,
        help="text (a summary for a person) or json (default: text when stdout is a terminal "
        "and one PATH is given, else json)",
    )
    assess.set_defaults(run=_assess)

    serve = commands.add_parser("serve", help="serve the CDS Hooks service with gunicorn")
    serve.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default: %(default)s)"
    )
    serve.add_argument(
        "--port", type=int, default=8080, help="port to listen on (default: %(default)s)"
    )
    serve.add_argument(
        "--workers", type=int, default=2, help="gunicorn worker processes (default: %(default)s)"
    )
    serve.add_argument(
        "--threads",
        type=int,
        default=16,
        help="threads a worker: calls it serves at once (default: %(default)s)",
    )
    serve.set_defaults(run=_serve)

    sandbox = commands.add_parser(
        "sandbox",
        help="load the synthetic patients into a FHIR server, call the hook, print the cards",
    )
    sandbox.add_argument(
        "--fhir-server",
        required=True,
        metavar="URL",
        help="base URL of a FHIR R4 server that accepts PUT (the patients are written to it)",
    )
    sandbox.add_argument(
        "--service",
        metavar="URL",
        help="base URL of a running service (default: an in-process app)",
    )
    sandbox.set_defaults(run=_sandbox)

    check = commands.add_parser(
        "check-order",
        help="run the CALL-0603 idarubicin checks (order-sign) on draft orders, print JSON",
        description="Checks each draft idarubicin MedicationRequest of ORDER against the record "
        "in BUNDLE by risk-schemes.md section 9 (ORD-IDA-*), as the order-sign service does, "
        'and prints {"patient": ..., "findings": [...]}: each finding with its rule, indicator, '
        "order, reason, the values with their resources and dates, and the suggested action "
        "(update, delete or none). No finding: the checks do not apply or nothing was found. "
        'Input that cannot be read prints {"error": ...} and exits 1.',
    )
    check.add_argument(
        "--order",
        required=True,
        type=Path,
        metavar="ORDER",
        help="a draft MedicationRequest (JSON), or a Bundle of draft orders as in draftOrders",
    )
    check.add_argument(
        "bundle",
        type=Path,
        metavar="BUNDLE",
        help="a FHIR R4 Bundle (JSON) holding one Patient and their record",
    )
    check.add_argument(
        "--as-of",
        type=_date,
        default=None,
        metavar="DATE",
        help="the date of the request, for an order with no planned or authored date "
        "(default: today)",
    )
    check.add_argument(
        "--codes", type=Path, metavar="FILE", help="an institution's extra code sets (JSON)"
    )
    check.set_defaults(run=_check_order)

    demo = commands.add_parser(
        "demo", help="run the service, a local FHIR server and a test EHR (`make run`)"
    )
    demo.add_argument("--sekmet", required=True, help="path of the sekmet executable")
    demo.add_argument(
        "--port",
        type=int,
        default=8080,
        help="the service's port; the FHIR server takes the next, the test EHR the one after "
        "(default: %(default)s)",
    )
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
    paths: list[Path] = args.paths
    fmt = args.format or ("text" if len(paths) == 1 and _is_terminal(sys.stdout) else "json")
    progress = _Progress(sys.stderr, len(paths)) if len(paths) > 1 else None
    failed = False
    for done, path in enumerate(paths, 1):
        line, response = _assess_path(path, codes, args.primary, as_of)
        failed = failed or "error" in line
        if progress:
            progress.clear()
        if fmt == "text":
            sys.stdout.write(("\n" if done > 1 else "") + _summary(path, line, response))
            sys.stdout.flush()
        else:
            _write(sys.stdout, line, pretty=len(paths) == 1)
        if progress:
            progress.show(done)
    if progress:
        progress.clear()
    return 1 if failed else 0


def _is_terminal(stream: TextIO) -> bool:
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


class _Progress:
    """A one-line bar redrawn in place on a terminal; nothing at all on a pipe or a file.

    It counts paths only: a path may name a patient, and the screen may be shared.
    """

    def __init__(self, stream: TextIO, total: int) -> None:
        self.stream = stream
        self.total = total
        self.enabled = _is_terminal(stream)
        self.shown = False

    def show(self, done: int) -> None:
        if not self.enabled or done >= self.total:
            return
        filled = BAR_WIDTH * done // self.total
        bar = "#" * filled + "." * (BAR_WIDTH - filled)
        self.stream.write(f"\rassessing [{bar}] {done}/{self.total}")
        self.stream.flush()
        self.shown = True

    def clear(self) -> None:
        # Erase the bar before stdout writes, which may share the terminal.
        if self.shown:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self.shown = False


def _summary(path: Path, a: dict[str, Any], response: Response | None) -> str:
    """A few lines a clinician reads at a glance; the JSON has the rest (sources, evidence).
    `response` is the assessment's response to reinduction, in the card's words."""
    if "error" in a:
        return _plain(f"{path}: cannot assess: {a['error']}") + "\n"
    lines = [f"{path}: {a['patient'] or 'patient without id'}, as of {a['as_of']}"]
    schemes: dict[str, Any] = a["schemes"]
    pathway: dict[str, Any] = a["pathway"]
    if a["status"] != "relapsed":
        lines.append(f"{pathway['reason']} No relapse risk group applies.")
    else:
        timing = a["timing"]
        lines.append(
            f"Relapsed ALL, first relapse {a['inputs']['relapse_date'] or 'undated'}: "
            f"timing BFM {TIMING_WORDS[timing['bfm']]}, COG {TIMING_WORDS[timing['cog']]}, "
            f"CALL-0603 {TIMING_WORDS[timing['call0603']]}; "
            f"site {PATTERN_WORDS[a['site_pattern']]}"
        )
        lines += ["", "Risk groups:"]
        width = max(len(get_scheme(k).full_title) for k in schemes)
        rule_width = max(len(r["rule"]) for r in schemes.values())
        for key, r in schemes.items():
            needs = f"needs {input_names(r['missing'])}" if r["missing"] else ""
            row = (
                f"{get_scheme(key).full_title:<{width}}  {group_words(r['group']):<14} "
                f"{r['rule']:<{rule_width}}"
            )
            lines.append(f"  {row}  {needs}".rstrip())
        lines += [
            f"  note ({get_scheme(key).full_title}): {note}"
            for key, r in schemes.items()
            for note in r["notes"]
        ]
        followed = scheme_name(pathway["scheme"])
        if pathway["primary"] != pathway["scheme"]:
            followed += f"; {scheme_name(pathway['primary'])} does not apply"
        plan = plan_words(Plan(pathway["plan"]), pathway["threshold"])
        lines += ["", f"Plan ({followed}): {plan}"]
        if pathway["rules"]:
            lines[-1] += f" ({', '.join(pathway['rules'])})"
        lines += [f"  + {addition_words(Addition(x))}" for x in pathway["additions"]]
        if response is not None:
            lines += ["", f"Response to reinduction: {response_words(response)}"]
        missing = sorted({m for r in schemes.values() for m in r["missing"]})
        missing += [m for m in pathway["decided_by"] if m not in missing]
        needed = input_names(missing) if missing else "nothing that decides a group"
        lines += ["", f"Missing: {needed}"]
    if a["warnings"]:
        lines += ["", "Needs checking:", *(f"  - {w}" for w in a["warnings"])]
    lines += ["", DISCLAIMER.strip("_")]
    return "\n".join(_plain(line) for line in lines) + "\n"


def _plain(text: str) -> str:
    """Control and format characters from a record (escape sequences, bidi overrides) never
    reach the terminal."""
    return "".join("\ufffd" if unicodedata.category(c)[0] == "C" else c for c in text)


def _assess_path(
    path: Path, codes: CodeSets, primary: str, as_of: date
) -> tuple[dict[str, Any], Response | None]:
    """The assessment's JSON (or the error) and its response to reinduction."""
    try:
        bundle = json.loads(path.read_bytes())
    except OSError as exc:
        return {"path": str(path), "error": f"cannot read the file: {exc.strerror or exc}"}, None
    except ValueError as exc:
        return {"path": str(path), "error": f"not JSON: {exc}"}, None
    try:
        resources = resources_from_bundle(bundle)
    except InvalidBundle as exc:
        return {"path": str(path), "error": str(exc)}, None
    result = assess_resources(resources, codes=codes, primary=primary, as_of=as_of)
    return result.assessment.to_json(), result.assessment.response


def _write(out: TextIO, obj: dict[str, Any], *, pretty: bool) -> None:
    # On a terminal, \u escapes keep C1 controls and bidi overrides from a record inert.
    ascii_only = _is_terminal(out)
    out.write(json.dumps(obj, indent=2 if pretty else None, ensure_ascii=ascii_only) + "\n")
    out.flush()


def _check_order(args: argparse.Namespace) -> int:
    from cds_hooks.contexts import draft_orders
    from cds_hooks.errors import BadRequest
    from service.hooks.idarubicin_order_sign import check_findings
    from service.order_cards import finding_json

    try:
        codes = load_codesets(args.codes)
        order = _read_json(args.order)
        resources = resources_from_bundle(_read_json(args.bundle))
        if isinstance(order, dict) and order.get("resourceType") != "Bundle":
            order = {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": order}]}
        drafts = draft_orders({"draftOrders": order})
    except (OSError, ValueError, InvalidBundle) as exc:
        _write(sys.stdout, {"error": str(exc)}, pretty=False)
        return 1
    except BadRequest as exc:
        # The field is named as in an order-sign call (a single order is entry[0]).
        _write(sys.stdout, {"error": f"{args.order}: {exc.field} {exc.message}"}, pretty=False)
        return 1
    patient = next(r for r in resources if r.get("resourceType") == "Patient")
    checked = check_findings(
        drafts,
        resources,
        codes,
        patient_id=str(patient.get("id")),
        request_date=args.as_of or local_today(),
    )
    findings = [finding_json(f, draft) for draft, found in checked for f in found]
    _write(
        sys.stdout, {"patient": f"Patient/{patient.get('id')}", "findings": findings}, pretty=False
    )
    return 0


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_bytes())
    except OSError as exc:
        raise OSError(f"{path}: cannot read the file: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise ValueError(f"{path}: not JSON: {exc}") from None


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
