"""``invprob example``: the demo copied out of the installed package validates; an existing
folder or an unknown example is one line, exit 2."""

from __future__ import annotations


def test_example_demo_copies_a_recipe_that_validates_and_refuses_to_overwrite(invprob_cli, tmp_path):
    out = tmp_path / "demo"
    result = invprob_cli(["example", "demo", "--out", str(out)])
    assert result.returncode == 0, result.stderr
    assert (out / "demo.yaml").is_file() and (out / "images/astronaut-face64.png").is_file()
    assert invprob_cli(["validate", str(out / "demo.yaml")]).returncode == 0
    again = invprob_cli(["example", "demo", "--out", str(out)])
    assert again.returncode == 2 and "already exists" in again.stderr
    unknown = invprob_cli(["example", "demos", "--out", str(tmp_path / "x")])
    assert unknown.returncode == 2 and "the examples are: demo" in unknown.stderr
