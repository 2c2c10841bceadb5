"""The documentation gallery (docs/gallery/, scripts/gallery.py): every shipped recipe is shown
or said not to be, every image it shows is there and small, and its pages are what the script
writes from the committed results -- so a new recipe, an edited one or a hand-edited page fails
here rather than leaving the gallery silently stale."""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
GALLERY = REPO / "docs" / "gallery"
_SPEC = importlib.util.spec_from_file_location("gallery_script", REPO / "scripts" / "gallery.py")
assert _SPEC is not None and _SPEC.loader is not None
gallery = importlib.util.module_from_spec(_SPEC)
sys.modules[_SPEC.name] = gallery  # its dataclass looks its module up there
_SPEC.loader.exec_module(gallery)

IMAGE_LIMIT = 150_000
"""The most bytes one gallery image may take (they take 4-100 kB)."""


def committed_results() -> dict:
    return json.loads((GALLERY / gallery.RESULTS_FILE).read_text(encoding="utf-8"))


def test_every_shipped_recipe_is_in_the_gallery_study_or_in_the_not_run_list():
    shipped = set(gallery.shipped_recipes())
    run = gallery.study_recipes()
    assert len(run) == len(set(run)), "a recipe is in docs/gallery/gallery.yaml twice"
    assert not set(run) & set(gallery.NOT_RUN), "a recipe is both run and listed as not run"
    assert set(run) | set(gallery.NOT_RUN) == shipped, (
        f"not in the gallery: {sorted(shipped - set(run) - set(gallery.NOT_RUN))} (add each to "
        f"docs/gallery/gallery.yaml, or to NOT_RUN in scripts/gallery.py with the reason); "
        f"no longer shipped: {sorted((set(run) | set(gallery.NOT_RUN)) - shipped)}"
    )


def test_the_committed_pages_are_what_the_script_writes_from_the_committed_results():
    """Also fails when a recipe changed since the gallery ran it (its fingerprint differs)."""
    pages = gallery.render_pages(committed_results(), gallery.shipped_recipes(), gallery.study_recipes())
    assert set(pages) == {"index", *gallery.PAPERS, *gallery.TASKS}
    for name, text in pages.items():
        committed = (GALLERY / f"{name}.md").read_text(encoding="utf-8")
        assert committed == text, f"docs/gallery/{name}.md differs from what scripts/gallery.py writes: run it"


def test_every_image_a_gallery_page_shows_exists_and_is_small():
    shown: set[str] = set()
    for page in sorted(GALLERY.glob("*.md")):
        for target in re.findall(r"!\[[^\]]*\]\(([^)\s]+)\)", page.read_text(encoding="utf-8")):
            path = (page.parent / target).resolve()
            assert path.is_file(), f"{page.name} shows {target}, which does not exist"
            assert path.stat().st_size <= IMAGE_LIMIT, f"{target}: {path.stat().st_size} bytes"
            shown.add(path.name)
    images = sorted((GALLERY / "images").glob("*"))
    assert shown == {path.name for path in images}, "an image in docs/gallery/images/ that no page shows"
    assert {Path(name).stem for name in shown} == set(gallery.study_recipes())  # one grid per recipe run
    assert sum(path.stat().st_size for path in images) <= gallery.IMAGE_BUDGET


def test_a_recipe_changed_since_the_gallery_ran_it_is_refused():
    results = committed_results()
    name = gallery.study_recipes()[0]
    results["recipes"][name]["recipe_sha256"] = "0" * 64
    with pytest.raises(SystemExit, match=f"recipes changed since the gallery ran them: {name}; run them again: python scripts/gallery.py --rerun {name}"):
        gallery.render_pages(results, gallery.shipped_recipes(), gallery.study_recipes())


# -- collect, on a small synthetic run of the study ----------------------------------------


def write_run(tmp_path: Path, recipes: list[str], *, done: list[str]) -> Path:
    """A study directory as ``invprob study run`` writes it for a gallery study of ``recipes``
    (through the studies' own store), the cells of ``done`` recorded, each with a grid."""
    from PIL import Image

    from invprob_studies.store import StudyDirectory

    store = StudyDirectory(tmp_path / "runs" / "gallery")
    plan = [{"cell": f"{i:04d}-0000000{i}", "axes": {"recipe": f"../../recipes/{n}.yaml"}, "labels": {"recipe": n}}
            for i, n in enumerate(recipes)]  # fmt: skip
    store.create("name: gallery\n", plan)
    for number, cell in enumerate(plan):
        if cell["labels"]["recipe"] not in done:
            continue
        run = store.runs / cell["cell"]
        run.mkdir()
        images = [{"name": f"face{i}", "psnr": 20.0 + number + i, "mse": 0.01 * (i + 1)} for i in range(3)]
        (run / "metrics.json").write_text(json.dumps({"images": images, "unavailable": {"lpips": "no weights"}}))
        (run / "environment.json").write_text(json.dumps({"cpu": {"model": "Toy CPU", "logical_cores": 2}, "torch": "9.9"}))
        grid = Image.new("RGB", (850, 870), (255, 255, 255))
        grid.paste(Image.effect_noise((256, 256), 60 + number).convert("RGB"), (40, 40))
        grid.save(run / "grid.png")
        store.record_cell("gallery", cell, status="done", error=None, seconds=30.0 * (number + 1), metrics={"images": images})
    store.append("sessions.jsonl", [
        {"started": "2026-01-01T10:00:00+00:00", "finished": "2026-01-01T10:10:00+00:00"},
        {"started": "2026-01-01T10:05:00+00:00", "finished": "2026-01-01T10:20:00+00:00"},  # a second process
        {"started": "2026-01-01T11:00:00+00:00", "finished": "2026-01-01T11:01:00+00:00"},  # resumed later
    ])  # fmt: skip
    return store.path


@pytest.fixture
def small_gallery(tmp_path: Path) -> tuple[Path, list[str]]:
    """A gallery folder whose study runs two shipped recipes."""
    recipes = ["csgm-inpaint-dcgan64", "ilo-classifier-mnist"]
    folder = tmp_path / "docs" / "gallery"
    folder.mkdir(parents=True)
    (folder / "gallery.yaml").write_text(
        "name: gallery\naxes:\n  - vary:\n      recipe: [" + ", ".join(f"../../recipes/{n}.yaml" for n in recipes) + "]\n"
    )
    return folder, recipes


def test_collect_takes_each_recipes_numbers_and_grid_from_a_run_of_the_study(tmp_path, small_gallery):
    folder, recipes = small_gallery
    study_dir = write_run(tmp_path, recipes, done=recipes)
    (folder / "images").mkdir()
    (folder / "images" / "a-recipe-no-longer-run.png").write_bytes(b"old")
    results = gallery.collect(study_dir, gallery=folder)
    assert sorted(p.name for p in (folder / "images").iterdir()) == [f"{name}.png" for name in recipes]
    assert json.loads((folder / "results.json").read_text()) == results
    entry = results["recipes"]["csgm-inpaint-dcgan64"]
    assert entry["images"] == ["face0", "face1", "face2"]
    assert entry["metrics"]["psnr"] == pytest.approx(21.0) and entry["metrics"]["mse"] == pytest.approx(0.02)
    assert entry["psnr"] == {"face0": 20.0, "face1": 21.0, "face2": 22.0}
    assert entry["seconds"] == 30.0 and results["recipes"]["ilo-classifier-mnist"]["seconds"] == 60.0
    assert entry["unavailable"] == ["lpips"]
    assert entry["recipe_sha256"] == gallery.shipped_recipes()["csgm-inpaint-dcgan64"].fingerprint()
    assert results["wall_seconds"] == 21 * 60  # the union of the sessions: 10:00-10:20 and 11:00-11:01
    assert results["machine"] == "Toy CPU, 2 cores; torch 9.9"

    from PIL import Image

    image = folder / "images" / "csgm-inpaint-dcgan64.png"
    with Image.open(image) as written:
        assert written.width == gallery.IMAGE_WIDTH and written.mode == "P"
        assert len(written.getpalette() or []) // 3 <= gallery.IMAGE_COLOURS
    first = image.read_bytes()
    gallery.collect(study_dir, gallery=folder)
    assert image.read_bytes() == first  # deterministic: a rerun leaves the committed images as they are

    pages = gallery.render_pages(results, gallery.shipped_recipes(), recipes)
    assert "![csgm-inpaint-dcgan64: observation, reconstruction, ground truth](images/csgm-inpaint-dcgan64.png)" in pages["inpainting"]
    assert "**PSNR 21.00 dB**<br>(20.00, 21.00, 22.00)" in pages["inpainting"]
    assert "invprob run recipes/csgm-inpaint-dcgan64.yaml 'data.select=\"-3:\"'" in pages["inpainting"]
    assert "invprob run recipes/ilo-classifier-mnist.yaml\n" in pages["ilo-csgm-pulse"]  # its own data: no select
    assert "ilo-classifier-mnist" not in "".join(pages[task] for task in gallery.TASKS)  # MNIST: on the ILO page only
    for name in gallery.NOT_RUN:
        assert f"invprob run recipes/{name}.yaml generator.params.checkpoint=" in pages["ilo-csgm-pulse"]


def test_collect_refuses_a_run_with_recipes_still_to_run(tmp_path, small_gallery):
    folder, recipes = small_gallery
    study_dir = write_run(tmp_path, recipes, done=recipes[:1])
    with pytest.raises(SystemExit, match="no done cell for ilo-classifier-mnist; run the study to the end first"):
        gallery.collect(study_dir, gallery=folder)
    assert not (folder / "results.json").exists()


def test_the_script_writes_the_pages_from_results_json_alone(tmp_path, monkeypatch):
    """``python scripts/gallery.py`` without a study directory: the committed pages, again."""
    folder = tmp_path / "gallery"
    shutil.copytree(GALLERY, folder)
    for page in folder.glob("*.md"):
        page.write_text("stale\n")
    monkeypatch.setattr(gallery, "GALLERY", folder)
    assert gallery.main([]) == 0
    for page in GALLERY.glob("*.md"):
        assert (folder / page.name).read_text(encoding="utf-8") == page.read_text(encoding="utf-8")


@pytest.mark.skipif(not (REPO.parent / "shared" / "weights").is_dir(), reason="../shared absent: the recipes' weights are read there")
@pytest.mark.parametrize("names", [["csgm-inpaint-dcgan32"], ["ilo-classifier-mnist", "lcm-inpaint"]])
def test_a_rerun_runs_the_gallery_study_cut_to_its_recipes(tmp_path, names):
    """``--rerun``'s study is the gallery's, cut to the recipes named: the same overrides and,
    for the recipes kept, the same cases; it loads from any folder."""
    from invprob_studies.spec import load_study

    path = tmp_path / "elsewhere" / "gallery.yaml"
    path.parent.mkdir()
    path.write_text(gallery.subset_study(names))
    study = load_study(path)
    assert [cell.labels["recipe"] for cell in study.cells] == sorted(names, key=gallery.study_recipes().index)
    for cell in study.cells:
        select = cell.recipe["data"].get("select")
        assert select == (None if cell.labels["recipe"] == "ilo-classifier-mnist" else gallery.SELECT)
    with pytest.raises(SystemExit, match="not in docs/gallery/gallery.yaml: no-such-recipe"):
        gallery.subset_study(["no-such-recipe"])


def test_collecting_a_rerun_replaces_its_entries_alone(tmp_path, small_gallery):
    folder, recipes = small_gallery
    gallery.collect(write_run(tmp_path / "full", recipes, done=recipes), gallery=folder)
    before = json.loads((folder / "results.json").read_text())
    kept_image = (folder / "images" / f"{recipes[1]}.png").read_bytes()

    rerun_dir = write_run(tmp_path / "rerun", [recipes[0]], done=[recipes[0]])
    cell = next((rerun_dir / "runs").iterdir())
    metrics = json.loads((cell / "metrics.json").read_text())
    for image in metrics["images"]:
        image["psnr"] += 5.0
    (cell / "metrics.json").write_text(json.dumps(metrics))
    from invprob_studies.store import StudyDirectory

    StudyDirectory(rerun_dir).record_cell("gallery", {"cell": cell.name, "axes": {}, "labels": {"recipe": recipes[0]}},
                                          status="done", error=None, seconds=99.0, metrics={"images": metrics["images"]})  # fmt: skip
    after = gallery.collect(rerun_dir, gallery=folder, only=[recipes[0]])
    assert after["recipes"][recipes[1]] == before["recipes"][recipes[1]]
    assert after["recipes"][recipes[0]]["seconds"] == 99.0
    assert after["recipes"][recipes[0]]["psnr"] == {"face0": 25.0, "face1": 26.0, "face2": 27.0}
    assert (after["machine"], after["wall_seconds"]) == (before["machine"], before["wall_seconds"])
    assert after["cell_seconds"] == 99.0 + before["recipes"][recipes[1]]["seconds"]
    assert (folder / "images" / f"{recipes[1]}.png").read_bytes() == kept_image
    assert json.loads((folder / "results.json").read_text()) == after
    pages = gallery.render_pages(after, gallery.shipped_recipes(), recipes)
    assert f"This entry (cell `{cell.name}` of a `--rerun` of the gallery study)" in pages["inpainting"]
