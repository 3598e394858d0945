"""`relapse-cds assess` through the installed console script."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import MCODE_EXAMPLE

SCRIPT = shutil.which("relapse-cds", path=str(Path(sys.executable).parent))


def run(*args: str | Path) -> subprocess.CompletedProcess[str]:
    assert SCRIPT, "the console script is not installed (pip install -e .)"
    return subprocess.run(
        [SCRIPT, "assess", *map(str, args)], capture_output=True, text=True, timeout=60, check=False
    )


def lines(result: subprocess.CompletedProcess[str]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in result.stdout.splitlines()]


def write(tmp_path: Path, name: str, content: str) -> Path:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    return path


def test_one_path_prints_the_assessment_json() -> None:
    result = run("--as-of", "2026-11-22", MCODE_EXAMPLE)
    assert result.returncode == 0, result.stderr
    assessment = json.loads(result.stdout)
    assert assessment["patient"] == "Patient/mcode-ava-r"
    assert assessment["as_of"] == "2026-11-22"
    assert assessment["status"] == "no_relapse"
    assert set(assessment["schemes"]) == {"bfm", "allr3", "cog", "intreall", "inpog"}


def test_bad_paths_get_an_error_line_and_the_rest_are_assessed(tmp_path: Path) -> None:
    patient = {"resourceType": "Patient", "id": "p"}
    paths = [
        tmp_path / "missing.json",
        write(tmp_path, "text.json", "not json {"),
        write(tmp_path, "patient.json", json.dumps(patient)),
        MCODE_EXAMPLE,
        write(tmp_path, "empty.json", json.dumps({"resourceType": "Bundle", "type": "collection"})),
        write(
            tmp_path,
            "two.json",
            json.dumps(
                {
                    "resourceType": "Bundle",
                    "type": "collection",
                    "entry": [{"resource": patient}, {"resource": {**patient, "id": "q"}}],
                }
            ),
        ),
    ]
    result = run(*paths)
    assert result.returncode == 1
    out = lines(result)
    assert [o.get("path") for o in out] == [str(p) if p != MCODE_EXAMPLE else None for p in paths]
    errors = [o.get("error", "") for o in out]
    assert "cannot read" in errors[0]
    assert "not JSON" in errors[1]
    assert "Bundle" in errors[2]
    assert out[3]["patient"] == "Patient/mcode-ava-r"
    assert "Patient" in errors[4]
    assert "Patient" in errors[5]


def test_several_good_paths_exit_zero_with_one_line_each() -> None:
    result = run("--primary", "inpog", MCODE_EXAMPLE, MCODE_EXAMPLE)
    assert result.returncode == 0, result.stderr
    out = lines(result)
    assert len(out) == 2
    assert all(o["pathway"]["scheme"] == "inpog" for o in out)


def test_bad_date_is_a_usage_error() -> None:
    result = run("--as-of", "22/11/2026", MCODE_EXAMPLE)
    assert result.returncode == 2
    assert result.stdout == ""
    assert "YYYY-MM-DD" in result.stderr


@pytest.mark.parametrize("primary", ["bfm", "allr3", "cog", "intreall", "inpog"])
def test_primary_scheme_is_configurable(primary: str) -> None:
    result = run("--primary", primary, MCODE_EXAMPLE)
    assert json.loads(result.stdout)["pathway"]["scheme"] == primary


@pytest.mark.parametrize(
    ("settings", "named"),
    [
        ({}, "RELAPSE_CDS_TRUSTED_ISSUERS"),
        ({"RELAPSE_CDS_TRUSTED_ISSUERS": "issuers.json"}, "RELAPSE_CDS_PUBLIC_URL"),
    ],
)
def test_serve_refuses_to_start_in_jwt_mode_without(
    tmp_path: Path, settings: dict[str, str], named: str
) -> None:
    assert SCRIPT
    (tmp_path / "issuers.json").write_text(
        '{"issuers": [{"iss": "https://x", "jku": ["https://x/k"]}]}'
    )
    env = {
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": os.environ.get("PYTHONPATH", ""),
        "RELAPSE_CDS_AUTH": "jwt",
        **{k: str(tmp_path / v) for k, v in settings.items()},
    }
    result = subprocess.run(
        [SCRIPT, "serve", "--port", "0"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=env,
        cwd=tmp_path,
    )
    assert result.returncode == 2
    assert named in result.stderr
