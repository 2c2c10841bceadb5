"""Study files: axis expansion (product and zip), labels, stable cell ids, every error with its path."""

from __future__ import annotations

from pathlib import Path

import pytest

from invprob_studies.spec import StudyError, load_study



def write_study(tmp_path: Path, body: str) -> Path:
    """A study of the toy recipe (the ``toy_recipe`` fixture writes it beside)."""
    path = tmp_path / "study.yaml"
    path.write_text("name: toy-study\nrecipe: recipe.yaml\n" + body)
    return path


def test_groups_combine_by_product_and_a_zip_group_pairs_values(tmp_path, toy_recipe, toy_registry):
    path = write_study(tmp_path, """\
axes:
  - mode: zip
    vary:
      solver.params.lr: [0.01, 0.1]
      seed: [1, 2]
  - vary:
      solver.params.steps: [2, 3, 4]
      operator.params.sigma: [0.0, 0.1]
""")
    study = load_study(path, registry=toy_registry)
    assert len(study.cells) == 2 * 3 * 2
    pairs = {(c.axes["solver.params.lr"], c.axes["seed"]) for c in study.cells}
    assert pairs == {(0.01, 1), (0.1, 2)}  # zipped, never crossed
    combos = {(c.axes["solver.params.steps"], c.axes["operator.params.sigma"]) for c in study.cells}
    assert len(combos) == 6  # every combination of the product group
    first = study.cells[0]
    assert first.recipe["solver"]["params"] == {"steps": 2, "restarts": 2, "lr": 0.01}
    assert first.recipe["seed"] == 1
    assert first.validated is not None and first.validated.solver.params["lr"] == 0.01
    assert len({c.id for c in study.cells}) == len(study.cells)
    assert [c.id for c in load_study(path, registry=toy_registry).cells] == [c.id for c in study.cells]  # stable


def test_a_whole_component_axis_with_labels_and_null_restoring_the_default(tmp_path, toy_recipe, toy_registry):
    path = write_study(tmp_path, """\
overrides: {solver.params.steps: 2}
axes:
  - vary:
      losses: [null, [{type: l1}]]
      solver: [{type: toy-descent, params: {steps: 5}}, {type: toy-descent, params: {steps: 6}}]
    labels: {losses: [default, L1]}
""")
    study = load_study(path, registry=toy_registry)
    assert len(study.cells) == 4
    by_label = {(c.labels["losses"], c.axes["solver"]["params"]["steps"]): c for c in study.cells}
    default = by_label[("default", 5)]
    assert "losses" not in default.recipe  # removed: the solver's default applies
    assert [spec.type for spec in default.validated.losses] == ["mse"]
    assert by_label[("L1", 6)].recipe["losses"] == [{"type": "l1"}]
    assert by_label[("L1", 6)].recipe["solver"]["params"]["steps"] == 6  # the axis comes after the override
    assert default.labels["solver"] == "{type: toy-descent, params: {steps: 5}}"  # one type: the value itself


def test_an_edited_base_recipe_gives_new_cell_ids(tmp_path, toy_recipe, toy_registry):
    path = write_study(tmp_path, "axes: [{vary: {seed: [1, 2]}}]\n")
    before = [c.id for c in load_study(path, registry=toy_registry).cells]
    toy_recipe.write_text(toy_recipe.read_text().replace("steps: 15", "steps: 16"))
    after = [c.id for c in load_study(path, registry=toy_registry).cells]
    assert [i.split("-")[0] for i in before] == [i.split("-")[0] for i in after] == ["0000", "0001"]
    assert not set(before) & set(after)


def test_study_file_errors_come_all_at_once_with_paths_and_suggestions(tmp_path, toy_recipe, toy_registry):
    path = write_study(tmp_path, """\
overides: {}
axes:
  - mode: zip
    vary:
      solvr.params.lr: [0.1, 0.2]
      seed: [1, 2, 3]
    labels: {sed: [a, b, c]}
  - mode: cross
    vary: {seed: [4]}
""")
    with pytest.raises(StudyError) as caught:
        load_study(path, registry=toy_registry)
    report = caught.value.report()
    assert "invalid study" in report
    assert "overides: unknown field 'overides'; did you mean 'overrides'?" in report
    assert "axes[1].mode: Input should be 'product' or 'zip'" in report  # both stage-1 problems together
    # the stage-1 problem stops before the axis checks; fix it and the axis problems show together
    path.write_text(path.read_text().replace("overides: {}\n", "").replace("mode: cross", "mode: product"))
    with pytest.raises(StudyError) as caught:
        load_study(path, registry=toy_registry)
    lines = caught.value.report().splitlines()[1:]
    assert any("axes[0].vary.solvr.params.lr: 'solvr' is not a recipe field; did you mean 'solver'?" in l for l in lines)
    assert any("axes[0].vary: a zip group's axes need one number of values each" in l for l in lines)
    assert any("axes[0].labels.sed: labels for 'sed', which this group does not vary; did you mean 'seed'?" in l for l in lines)
    assert any("axes[1].vary.seed: axis 'seed' is already varied in axes[0]" in l for l in lines)


def test_every_cells_recipe_errors_are_reported_together_with_the_cell_and_path(tmp_path, toy_recipe, toy_registry):
    path = write_study(tmp_path, """\
axes:
  - vary:
      solver.params.steps: [2, -1]
      solver.params.stepz: [1]
      operator.type: [toy-mask, toy-mak]
""")
    with pytest.raises(StudyError) as caught:
        load_study(path, registry=toy_registry)
    problems = [str(p) for p in caught.value.problems]
    assert "every cell (4): solver.params.stepz: unknown field 'stepz'; did you mean 'steps'?" in problems
    assert len([p for p in problems if "operator.type: unknown operator 'toy-mak'" in p]) == 2  # each such cell
    assert any(p.startswith("cell 0001-") and "operator.type" in p and "did you mean 'toy-mask'" in p for p in problems)
    assert any("(solver.params.steps=-1 " in p and "): solver.params.steps:" in p for p in problems)
    assert any("operator.type=toy-mak)" in p for p in problems)  # a string's label is the string
    assert str(path) in caught.value.report().splitlines()[0]


def test_a_problem_every_cell_shares_is_reported_once(tmp_path, toy_recipe, toy_registry):
    path = write_study(tmp_path, "overrides: {solver.params.stepz: 1}\naxes: [{vary: {seed: [1, 2, 3]}}]\n")
    with pytest.raises(StudyError) as caught:
        load_study(path, registry=toy_registry)
    assert [str(p) for p in caught.value.problems] == [
        "every cell (3): solver.params.stepz: unknown field 'stepz'; did you mean 'steps'?"
    ]


def test_a_missing_base_recipe_is_named(tmp_path, toy_recipe, toy_registry):
    path = tmp_path / "study.yaml"
    path.write_text("name: s\nrecipe: nowhere.yaml\n")
    with pytest.raises(StudyError, match=r"recipe: .*nowhere.yaml: recipe file not found"):
        load_study(path, registry=toy_registry)


def test_a_recipe_axis_runs_each_recipe_file_as_written_with_only_the_study_data(tmp_path, toy_recipe, toy_registry):
    """A gallery of shipped recipes: each cell's base recipe is one file, unchanged but for the
    study's data; its paths resolve against its own folder; its label is the file's stem."""
    (tmp_path / "more").mkdir()
    other = tmp_path / "more" / "slow.yaml"
    other.write_text(toy_recipe.read_text().replace("steps: 15", "steps: 9"))
    path = tmp_path / "study.yaml"
    path.write_text("name: shipped\ndata: {samples: 2}\naxes: [{vary: {recipe: [recipe.yaml, more/slow.yaml]}}]\n"
                    "cases: [{when: {recipe: slow}, set: {seed: 3}}]\n")  # fmt: skip
    study = load_study(path, registry=toy_registry)
    fast, slow = study.cells
    assert (fast.labels, slow.labels) == ({"recipe": "recipe"}, {"recipe": "slow"})
    assert (fast.base_dir, slow.base_dir) == (tmp_path.resolve(), other.parent.resolve())
    assert fast.recipe["solver"]["params"]["steps"] == 15 and slow.recipe["solver"]["params"]["steps"] == 9
    assert fast.recipe["data"] == slow.recipe["data"] == {"samples": 2, "batch_size": 2}
    assert (fast.recipe["seed"], slow.recipe["seed"]) == (0, 3)
    assert "recipe" not in fast.recipe
    assert [c.id for c in load_study(path, registry=toy_registry).cells] == [fast.id, slow.id]
    other.write_text(other.read_text().replace("steps: 9", "steps: 8"))
    edited = load_study(path, registry=toy_registry).cells
    assert edited[0].id == fast.id and edited[1].id != slow.id  # only the edited recipe's cell is new


def test_recipe_axis_errors_name_the_file_and_where_it_is_given(tmp_path, toy_recipe, toy_registry):
    path = tmp_path / "study.yaml"
    path.write_text("name: s\noverrides: {recipe: x.yaml}\naxes: [{vary: {recipe: [recipe.yaml, gone.yaml]}}]\n")
    with pytest.raises(StudyError) as caught:
        load_study(path, registry=toy_registry)
    text = str(caught.value)
    assert "overrides.recipe: 'recipe' (the base recipe file) is an axis or the study's own field" in text
    assert "axes[0].recipe[1]: " in text and "gone.yaml: recipe file not found" in text
    path.write_text("name: s\naxes: [{vary: {seed: [1, 2]}}]\n")
    with pytest.raises(StudyError, match=r"recipe: required field is missing \(or an axis 'recipe' with recipe files\)"):
        load_study(path, registry=toy_registry)
    path.write_text("name: s\naxes: [[{label: a, set: {recipe: recipe.yaml}}, {label: b, set: {seed: 3}}]]\n")
    with pytest.raises(StudyError, match=r"cell 0001 \(seed=b\): recipe: no base recipe: give the study a 'recipe:'"):
        load_study(path, registry=toy_registry)


def test_study_data_replaces_the_image_source_relative_to_the_study(tmp_path, toy_recipe, toy_registry):
    (tmp_path / "faces").mkdir()
    path = write_study(tmp_path, "data: {images: faces, select: '-1:'}\n")
    (cell,) = load_study(path, registry=toy_registry).cells
    assert cell.recipe["data"] == {"batch_size": 2, "images": str((tmp_path / "faces").resolve()), "select": "-1:"}


def test_plan_command_lists_cells_and_exits_2_on_an_invalid_study(tmp_path, toy_recipe, invprob_cli, toy_env):
    path = write_study(tmp_path, "axes: [{vary: {seed: [1, 2]}, labels: {seed: [one, two]}}]\n")
    result = invprob_cli(["study", "plan", str(path)], toy_env)
    assert result.returncode == 0, result.stderr
    assert "2 cells" in result.stdout and "todo    seed=one" in result.stdout and "seed=two" in result.stdout
    path.write_text(path.read_text() + "nme: x\n")
    result = invprob_cli(["study", "plan", str(path)], toy_env)
    assert result.returncode == 2
    assert "nme: unknown field 'nme'; did you mean 'name'?" in result.stderr


# -- named variants ------------------------------------------------------------------------


def test_named_variants_set_only_their_own_fields_with_their_label(tmp_path, toy_recipe, toy_registry):
    """The zip form needed every list padded with null and '-' labels; a variant names what it sets."""
    path = write_study(tmp_path, """\
axes:
  - variants:
      - {label: plain, set: {solver.params.steps: 3}}
      - {label: noisy, set: {operator: {type: toy-mask}, operator.params.sigma: 0.1}}
      - {label: L1, set: {losses: [{type: l1}], solver.params.lr: 0.05}}
  - vary: {seed: [1, 2]}
""")
    study = load_study(path, registry=toy_registry)
    assert len(study.cells) == 3 * 2
    plain, noisy, l1 = study.cells[0], study.cells[2], study.cells[4]
    assert plain.axes == {"solver.params.steps": 3, "seed": 1} and plain.labels == {"solver.params.steps": "plain", "seed": "1"}
    assert noisy.axes == {"operator": {"type": "toy-mask"}, "operator.params.sigma": 0.1, "seed": 1}
    assert noisy.labels["operator"] == noisy.labels["operator.params.sigma"] == "noisy"
    assert noisy.recipe["operator"] == {"type": "toy-mask", "params": {"sigma": 0.1}}  # the component, then its param
    assert l1.recipe["losses"] == [{"type": "l1"}] and l1.recipe["solver"]["params"]["lr"] == 0.05
    assert "sigma" not in (l1.recipe["operator"].get("params") or {})  # not set by this variant: left alone
    assert noisy.describe() == "operator,operator.params.sigma=noisy seed=1"
    # a bare list is a variants group, with the same cells
    bare = write_study(tmp_path, path.read_text().replace("  - variants:\n      - ", "  - - ").replace("      - {", "    - {"))
    assert [c.id for c in load_study(bare, registry=toy_registry).cells] == [c.id for c in study.cells]


def test_a_variants_group_gives_the_cells_of_the_equivalent_zip_group(tmp_path, toy_recipe, toy_registry):
    zipped = write_study(tmp_path, """\
axes:
  - mode: zip
    vary: {solver.params.lr: [0.01, 0.1], seed: [1, 2]}
""")
    variants = tmp_path / "variants.yaml"
    variants.write_text("""\
name: toy-study
recipe: recipe.yaml
axes:
  - - {label: a, set: {solver.params.lr: 0.01, seed: 1}}
    - {label: b, set: {solver.params.lr: 0.1, seed: 2}}
""")
    assert [c.id for c in load_study(variants, registry=toy_registry).cells] == [c.id for c in load_study(zipped, registry=toy_registry).cells]


def test_variant_errors_come_all_at_once_with_their_paths(tmp_path, toy_recipe, toy_registry):
    path = write_study(tmp_path, """\
axes:
  - variants:
      - {lable: a, set: {seed: 1}}
      - {label: b}
      - {label: c, set: {}}
  - {variants: [], vary: {seed: [1]}}
  - {mode: zip, variants: [{label: a, set: {seed: 1}}]}
  - {}
  - [csgm, ilo]
""")
    with pytest.raises(StudyError) as caught:
        load_study(path, registry=toy_registry)
    report = caught.value.report()
    assert "axes[0].variants[0].lable: unknown field 'lable'; did you mean 'label'?" in report
    assert "axes[0].variants[0].label: required field is missing" in report
    assert "axes[0].variants[1].set: required field is missing" in report
    assert "axes[0].variants[2].set: Dictionary should have at least 1 item" in report
    assert "axes[1].variants: List should have at least 1 item" in report
    assert "axes[2]: a group has either variants or vary, not both: drop mode" in report
    assert "axes[3]: a group needs 'vary: {path: [values]}' or 'variants: [{label, set: {path: value}}]'" in report
    assert "axes[4]: variant 0 is 'csgm'; a variant is {label: <name>, set: {<path>: <value>}}" in report
    path.write_text("""\
name: toy-study
recipe: recipe.yaml
axes:
  - - {label: a, set: {solvr.params.lr: 0.1}}
    - {label: a, set: {seed: 3}}
    - {label: c, set: {seed: 3}}
  - vary: {seed: [1, 2]}
""")
    with pytest.raises(StudyError) as caught:
        load_study(path, registry=toy_registry)
    problems = [str(p) for p in caught.value.problems]
    assert "axes[0].variants[0].set.solvr.params.lr: 'solvr' is not a recipe field; did you mean 'solver'?" in problems
    assert "axes[0].variants[1].label: label 'a' is also variant 0's; give each variant of a group its own label" in problems
    assert "axes[0].variants[2].set: sets the same values as variant 1; remove one, or make them differ" in problems
    assert "axes[1].vary.seed: axis 'seed' is already varied in axes[0]" in problems


def test_plan_warns_when_a_new_solver_inherits_losses_or_priors_written_for_another(tmp_path, toy_recipe, toy_registry, invprob_cli, toy_env):
    """The base recipe's explicit priors (written for toy-descent) silently carried into a csgm cell."""
    path = write_study(tmp_path, """\
axes:
  - - {label: toy, set: {solver: {type: toy-descent, params: {steps: 2}}}}
    - {label: CSGM, set: {solver: {type: csgm, params: {steps: 2}}}}
    - {label: CSGM default priors, set: {solver: {type: csgm, params: {steps: 3}}, priors: null}}
""")
    study = load_study(path, registry=toy_registry)
    (warning,) = study.warnings  # losses [mse] is csgm's default too: no warning for them
    assert warning.startswith("priors [{type: toy-norm, params: {weight: 0.001}}] of the base recipe (written for "
                              "solver 'toy-descent') carry into 1 cell with solver 'csgm' (0001-")  # fmt: skip
    assert "whose own default is []; set 'priors: null' beside that solver" in warning
    result = invprob_cli(["study", "plan", str(path)], toy_env)
    assert result.returncode == 0 and result.stderr.count("warning: priors [{type: toy-norm") == 1
