"""``invprob describe``: a component's params with types, defaults, ranges and descriptions;
an unknown kind or name is one line with a "did you mean", exit 2."""

from __future__ import annotations

import json


def test_describe_prints_types_defaults_ranges_and_descriptions(invprob_cli):
    result = invprob_cli(["describe", "solver", "csgm"])
    assert result.returncode == 0, result.stderr
    assert "csgm (solver, invprob-plugin-csgm" in result.stdout
    lines = result.stdout.splitlines()
    momentum = lines.index("  momentum: float, default 0.9, in [0, 1)")
    assert lines[momentum + 1].strip() == "momentum of sgd (ignored by adam)"
    assert '  optimizer: "adam" | "sgd", default "adam"' in lines
    center = invprob_cli(["describe", "operators", "inpaint-center"]).stdout
    assert "  size: int | [int, int] | null, default null" in center.splitlines()
    as_json = json.loads(invprob_cli(["describe", "operators", "inpaint-center", "--json"]).stdout)
    assert "fraction" in as_json["properties"]


def test_describe_an_unknown_name_suggests_the_close_one(invprob_cli):
    result = invprob_cli(["describe", "solver", "csgn"])
    assert result.returncode == 2
    assert "did you mean 'csgm'" in result.stderr
    misspelled = invprob_cli(["describe", "solvr", "csgm"])
    assert misspelled.returncode == 2
    assert "unknown component kind 'solvr'; expected one of" in misspelled.stderr
