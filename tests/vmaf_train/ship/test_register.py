"""Registration: size class, load-time checks, sidecar + registry rows valid against the schemas."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import jsonschema
import pytest

from tests.support.cli import one_line_error
from tests.support.fr_fixtures import fast_config, run_cli
from vmaf_tiny.errors import BadInputError, BadModelError
from vmaf_tiny.fsutil import sha256_file
from vmaf_train.evaluate.predict import load_sidecar, open_fr_model
from vmaf_train.fit.fr import fit_run
from vmaf_train.ship.quantize import gate_path, quantize_int8
from vmaf_train.ship.register import register
from vmaf_train.ship.registry import Shipment, registry_schema, ship

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def quantized_run(
    fr_run: Path, fr_features: Path, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    run = tmp_path_factory.mktemp("reg") / "run"
    shutil.copytree(fr_run, run)
    quantize_int8(run / "model.onnx", fr_features, run / "model.int8.onnx", n_calib=256)
    return run


def _schema_ok(zoo: Path) -> dict:  # type: ignore[type-arg]
    reg = json.loads((zoo / "registry.json").read_text())
    jsonschema.validate(
        reg, json.loads((REPO / "src/vmaf_tiny/zoo/registry.schema.json").read_text())
    )
    return reg


def test_register_writes_valid_rows_and_files(quantized_run: Path, tmp_path: Path) -> None:
    zoo = tmp_path / "zoo"
    proc = run_cli("register", quantized_run, "--zoo", zoo, "--json", check=True)
    row = json.loads(proc.stdout)
    reg = _schema_ok(zoo)
    assert [r["id"] for r in reg["models"]] == ["vmaf_tiny_v3"]
    assert reg["models"][0] == row
    assert row["sha256"] == sha256_file(zoo / "vmaf_tiny_v3.onnx")
    assert row["bytes"] == (zoo / "vmaf_tiny_v3.onnx").stat().st_size <= 100 * 1024
    side = load_sidecar(zoo / "vmaf_tiny_v3.json")
    assert side["onnx"] == "vmaf_tiny_v3.onnx"
    gate = json.loads(gate_path(quantized_run / "model.int8.onnx").read_text())
    if gate["passed"]:
        assert row["quant_mode"] == "fp32+int8_qdq"
        assert row["int8"]["sha256"] == sha256_file(zoo / "vmaf_tiny_v3.int8.onnx")
        assert side["int8"] == {"onnx": "vmaf_tiny_v3.int8.onnx", "sha256": row["int8"]["sha256"]}
        assert row["int8"]["gate"]["passed"] == "true"
    else:
        assert row["quant_mode"] == "fp32" and row["int8"] is None
    tr = row["training"]
    metrics = json.loads((quantized_run / "metrics.json").read_text())
    assert tr["metrics"]["test"]["plcc"] == metrics["test"]["frame"]["plcc"]
    assert tr["n_rows"] == 720 and tr["n_sources"] == 9
    assert tr["corpus_manifest_sha256"] == metrics["provenance"]["manifest_sha256"]
    # Loadable by id from the zoo, with no stray files left behind.
    assert open_fr_model("vmaf_tiny_v3", zoo=zoo).id == "vmaf_tiny_v3"
    assert not [p for p in zoo.iterdir() if p.name.startswith(".")]
    # Registering the same id again is refused without --force (zoo untouched), replaced with it.
    before = {p.name: p.read_bytes() for p in zoo.iterdir()}
    err = one_line_error(run_cli("register", quantized_run, "--zoo", zoo))
    assert "already has vmaf_tiny_v3" in err and "--force" in err
    assert {p.name: p.read_bytes() for p in zoo.iterdir()} == before
    run_cli("register", quantized_run, "--zoo", zoo, "--force", check=True)
    assert len(_schema_ok(zoo)["models"]) == 1
    register(quantized_run, zoo)  # the function replaces by default (the zoo rebuild's path)
    assert len(_schema_ok(zoo)["models"]) == 1


@pytest.mark.parametrize(
    "registry",
    ['{"schema_version": 1, "models": "x"}', "[1, 2]", '{"models": [1]}', '{"models": [{}]}', "/"],
)
def test_a_damaged_registry_is_named_and_nothing_is_written(
    quantized_run: Path, tmp_path: Path, registry: str
) -> None:
    """A registry.json of the wrong shape (or a folder) is one line naming it, with or without
    --force, and the zoo is left as it was (no model files shipped beside it)."""
    zoo = tmp_path / "zoo"
    zoo.mkdir()
    if registry == "/":
        (zoo / "registry.json").mkdir()
    else:
        (zoo / "registry.json").write_text(registry)
    for force in (False, True):
        with pytest.raises(BadInputError, match=r"registry\.json"):
            register(quantized_run, zoo, replace=force)
    err = one_line_error(run_cli("register", quantized_run, "--zoo", zoo, "--force"))
    assert "registry.json" in err and "fit run" not in err
    assert [p.name for p in zoo.iterdir()] == ["registry.json"]


def test_failed_gate_ships_fp32_only(quantized_run: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    shutil.copytree(quantized_run, run)
    gp = gate_path(run / "model.int8.onnx")
    gate = json.loads(gp.read_text())
    gate["passed"] = False
    gp.write_text(json.dumps(gate))
    zoo = tmp_path / "zoo"
    row = register(run, zoo)
    assert row["quant_mode"] == "fp32" and row["int8"] is None
    assert not (zoo / "vmaf_tiny_v3.int8.onnx").exists()
    assert load_sidecar(zoo / "vmaf_tiny_v3.json")["int8"] is None
    assert row["training"]["metrics"]["extra"]["int8_gate"]["passed"] is False
    # An int8 file changed after its gate ran is refused.
    (run / "model.int8.onnx").write_bytes((run / "model.int8.onnx").read_bytes() + b"\0")
    with pytest.raises(BadInputError, match="changed after its gate"):
        register(run, zoo)


@pytest.mark.filterwarnings("ignore::vmaf_tiny.guard.SizeClassWarning")
def test_oversize_model_is_refused(fr_features: Path, tmp_path: Path) -> None:
    cfg = fast_config("vmaf_tiny_v4", epochs=2).with_overrides(arch={"hidden": [160, 160, 160]})
    run = tmp_path / "big"
    fit_run(cfg, fr_features, run, plots=False, n_boot=0)
    assert (run / "model.onnx").stat().st_size > 100 * 1024
    zoo = tmp_path / "zoo"
    err = one_line_error(run_cli("register", run, "--zoo", zoo))
    assert "C1" in err and "exceeds" in err
    assert not zoo.exists() or not any(zoo.iterdir())


@pytest.mark.parametrize("kind_run", ["fr_run", "nr_run", "filter_run", "sal_run"])
def test_incomplete_run_is_refused(
    kind_run: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """One register for every kind: an incomplete run of any kind is one line, exit 2."""
    run = tmp_path / "run"
    shutil.copytree(request.getfixturevalue(kind_run), run, ignore=shutil.ignore_patterns("cache"))
    (run / "metrics.json").unlink()
    err = one_line_error(run_cli("register", run, "--zoo", tmp_path / "zoo"))
    assert "missing metrics.json" in err
    assert not (tmp_path / "zoo").exists()
    (tmp_path / "empty").mkdir()
    with pytest.raises(BadInputError, match=r"missing metrics\.json"):
        register(tmp_path / "empty", tmp_path / "zoo")


def test_one_bad_model_leaves_the_zoo_untouched(fr_run: Path, tmp_path: Path) -> None:
    """Every file is staged and checked before anything moves in; registry.json is written
    once, last: a batch with one failing model writes nothing at all."""
    first = register(fr_run, tmp_path / "a")
    side = load_sidecar(tmp_path / "a" / first["sidecar"])
    good = Shipment(first, side, tmp_path / "a" / first["onnx"])
    bad_side = {**side, "id": "bad_v1", "onnx": "bad_v1.onnx"}
    bad_side["inputs"] = [{**side["inputs"][0], "name": "not_in_the_graph"}]
    bad_row = {**first, "id": "bad_v1", "onnx": "bad_v1.onnx", "sidecar": "bad_v1.json"}
    bad_row["inputs"] = bad_side["inputs"]
    bad = Shipment(bad_row, bad_side, tmp_path / "a" / first["onnx"])
    zoo = tmp_path / "b"
    with pytest.raises(BadModelError, match="not_in_the_graph"):  # the load-time check
        ship(zoo, [good, bad])
    assert not zoo.exists() or not any(zoo.iterdir())
    ship(zoo, [good])
    assert _schema_ok(zoo)["models"] == [first]


def test_registry_schema_is_found() -> None:
    assert registry_schema()["$id"] == "vmaf-tiny/registry.schema.json"
    with pytest.raises(BadModelError):
        from vmaf_train.ship.registry import validate_registry

        validate_registry({"schema_version": 1, "models": [{"id": "x"}]})
