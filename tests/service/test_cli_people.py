"""`relapse-cds` for people: the text summary, the format chosen by terminal, the progress bar,
help for every argument."""

from __future__ import annotations

import argparse
import json
import os
import pty
import subprocess
import threading
from pathlib import Path
from typing import Any

import pytest

from service.cli import _parser, _summary, main
from tests.conftest import FIXTURES, MCODE_EXAMPLE
from tests.service.test_cli import SCRIPT

EXPECTED = json.loads((FIXTURES / "expected.json").read_text(encoding="utf-8"))
AS_OF = ("--as-of", "2026-11-22")


def run_on(args: list[str | Path], *, stdout_tty: bool, stderr_tty: bool) -> tuple[int, str, str]:
    """Run `relapse-cds assess` with stdout and/or stderr on a pseudo-terminal."""
    assert SCRIPT
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [SCRIPT, "assess", *map(str, args)],
        stdout=slave if stdout_tty else subprocess.PIPE,
        stderr=slave if stderr_tty else subprocess.PIPE,
        stdin=subprocess.DEVNULL,
    )
    os.close(slave)
    chunks: list[bytes] = []

    def drain() -> None:
        while True:
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO once the child closed the terminal
                return
            if not data:
                return
            chunks.append(data)

    reader = threading.Thread(target=drain)
    reader.start()
    piped, _ = proc.communicate(timeout=60)
    reader.join(timeout=60)
    os.close(master)
    # The terminal turns "\n" into "\r\n".
    on_tty = b"".join(chunks).decode().replace("\r\n", "\n")
    off_tty = (piped or b"").decode()
    if stdout_tty:
        return proc.returncode, on_tty, off_tty
    return proc.returncode, off_tty, on_tty


def group_row(text: str, title: str) -> list[str]:
    (row,) = [line.split() for line in text.splitlines() if line.startswith(f"  {title} ")]
    return row


def test_one_path_on_a_terminal_prints_the_summary() -> None:
    path = FIXTURES / "b-early-combined.json"
    code, out, err = run_on([*AS_OF, path], stdout_tty=True, stderr_tty=False)
    assert code == 0, err
    assert not out.lstrip().startswith("{")
    assert out.startswith(f"{path}: Patient/rel-b-early-combined, as of 2026-11-22\n")
    expected = EXPECTED["b-early-combined"]
    assert group_row(out, "ALLR3")[1] == expected["allr3"]
    assert group_row(out, "IntReALL 2010")[2] == expected["intreall"]
    assert "Plan (BFM): intensive chemotherapy, then allogeneic HSCT in CR2" in out
    assert "Decision support, not a decision" in out
    assert err == ""


def test_progress_bar_on_a_terminal_stderr_only() -> None:
    paths = [FIXTURES / "b-late-marrow.json", FIXTURES / "gen-tp53.json", MCODE_EXAMPLE]
    code, out, err = run_on([*AS_OF, *paths], stdout_tty=False, stderr_tty=True)
    assert code == 0
    assert len([json.loads(line) for line in out.splitlines()]) == 3
    assert "assessing [" in err
    assert "1/3" in err
    assert "2/3" in err
    assert err.endswith("\r\x1b[K")  # erased at the end: the terminal is left clean


def assess(capsys: pytest.CaptureFixture[str], *args: str | Path) -> tuple[int, str, str]:
    code = main(["assess", *AS_OF, *map(str, args)])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def terminal_stdout(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr("sys.stdout.isatty", lambda: True)


def test_one_path_to_a_pipe_is_json(capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = assess(capsys, MCODE_EXAMPLE)
    assert json.loads(out)["status"] == "no_relapse"


@pytest.mark.usefixtures("terminal_stdout")
def test_several_paths_on_a_terminal_stay_json_without_a_bar_on_a_pipe(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, err = assess(capsys, MCODE_EXAMPLE, MCODE_EXAMPLE)
    assert code == 0
    assert [json.loads(line)["status"] for line in out.splitlines()] == ["no_relapse"] * 2
    assert err == ""


@pytest.mark.usefixtures("terminal_stdout")
def test_format_overrides_the_terminal_either_way(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, out, _ = assess(capsys, "--format", "json", MCODE_EXAMPLE)
    assert json.loads(out)["patient"] == "Patient/mcode-ava-r"
    monkeypatch.setattr("sys.stdout.isatty", lambda: False)
    _, out, _ = assess(capsys, "--format", "text", MCODE_EXAMPLE)
    assert out.startswith(f"{MCODE_EXAMPLE}: Patient/mcode-ava-r, as of 2026-11-22\n")
    assert "No relapse is documented. No relapse risk group applies." in out


def test_text_names_what_is_missing_and_what_failed(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    paths = [FIXTURES / "gen-not-tested.json", tmp_path / "missing.json"]
    code, out, _ = assess(capsys, "--format", "text", *paths)
    assert code == 1
    # risk-schemes §10: the untested BCR-ABL1 exclusion leaves IntReALL standard.
    assert group_row(out, "IntReALL 2010")[2:] == ["standard", "INTREALL"]
    assert group_row(out, "InPOG-ALL-R1")[1:] == ["undetermined", "INPOG", "needs", "genetics"]
    assert group_row(out, "COG (AALL1331)")[2:] == ["low", "COG"]
    assert "\nMissing: genetics\n" in out
    assert out.endswith(
        f"\n\n{paths[1]}: cannot assess: cannot read the file: No such file or directory\n"
    )


def test_record_text_cannot_drive_the_terminal(capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = assess(capsys, MCODE_EXAMPLE)
    assessment: dict[str, Any] = json.loads(out)
    assessment["warnings"] = ["Observation/x: \x1b]0;owned\x07 \x1b[2J\u202eevil\nline"]
    text = _summary(Path("a\x1b[31m.json"), assessment, None)
    assert not any(c in text for c in "\x1b\x07\u202e")
    assert "\ufffd[2J" in text
    plain = _summary(Path("a.json"), {**assessment, "warnings": ["w"]}, None)
    assert len(text.splitlines()) == len(plain.splitlines())  # no line break smuggled in


def _actions(parser: argparse.ArgumentParser, where: str) -> list[tuple[str, argparse.Action]]:
    found: list[tuple[str, argparse.Action]] = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            found.append((where, action))
            found += [
                (f"{where} {name}", a)
                for name, a in zip(action.choices, action._choices_actions, strict=True)
            ]
            for name, sub in action.choices.items():
                found += _actions(sub, f"{where} {name}")
        elif not isinstance(action, argparse._HelpAction):
            found.append((where, action))
    return found


def test_every_argument_of_every_command_has_help() -> None:
    actions = _actions(_parser(), "relapse-cds")
    assert len(actions) > 15  # the walk reached the subcommands' arguments
    undocumented = [
        f"{where}: {action.dest}"
        for where, action in actions
        if not action.help or action.help == argparse.SUPPRESS
    ]
    assert undocumented == []


def test_json_on_a_terminal_escapes_what_could_drive_it(tmp_path: Path) -> None:
    bundle = json.loads((FIXTURES / "broken-resources.json").read_text(encoding="utf-8"))
    for entry in bundle["entry"]:
        if entry["resource"]["resourceType"] == "Observation":
            entry["resource"]["id"] = "x\u009b2J\u202e"  # C1 CSI, right-to-left override
    path = tmp_path / "b.json"
    path.write_text(json.dumps(bundle), encoding="utf-8")
    _, out, _ = run_on([*AS_OF, "--format", "json", path], stdout_tty=True, stderr_tty=False)
    assert "\u009b" not in out
    assert "\u202e" not in out
    assert "\\u009b2J" in out
