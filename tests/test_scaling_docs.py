"""docs/scaling.md section 3: the `conf/prod/catalog_s3.yml` it shows, loaded over conf/base,
puts every artifact path of the catalog on S3 and keeps every entry as base declares it (a
Kedro environment replaces an entry whole, and base's path variables do not reach it)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from kedro.config import OmegaConfigLoader

from tests.conftest import PROJECT_ROOT

DOC = PROJECT_ROOT / "docs" / "scaling.md"
PATH_KEYS = ("filepath", "model_filepath", "scaler_filepath", "serving_filepaths")


def paths(value) -> list[str]:
    """A path key's paths: one string, or a mapping of names to paths (serving_filepaths)."""
    return [str(v) for v in value.values()] if isinstance(value, dict) else [str(value)]


def prod_block() -> str:
    section = DOC.read_text().split("## 3. Artifacts on object storage")[1].split("\n## 4.")[0]
    blocks = re.findall(r"```yaml\n(.*?)```", section, flags=re.S)
    assert len(blocks) == 1, "section 3 shows one conf/prod/catalog_s3.yml"
    return blocks[0]


def catalog(conf: Path, env: str) -> dict:
    from stock_lstm.settings import CONFIG_LOADER_ARGS

    return OmegaConfigLoader(str(conf), **{**CONFIG_LOADER_ARGS, "default_run_env": env})["catalog"]


def test_the_prod_catalog_of_the_docs_puts_every_artifact_on_s3(tmp_path: Path) -> None:
    conf = tmp_path / "conf"
    shutil.copytree(PROJECT_ROOT / "conf" / "base", conf / "base")
    (conf / "prod").mkdir()
    (conf / "prod" / "catalog_s3.yml").write_text(prod_block())

    base, prod = catalog(conf, "base"), catalog(conf, "prod")
    with_paths = {name for name, entry in base.items() if any(k in entry for k in PATH_KEYS)}
    assert with_paths, "no catalog entry with a path: the check would prove nothing"
    local = {
        f"{name}.{key}": entry[key]
        for name, entry in prod.items()
        for key in PATH_KEYS
        if key in entry and not all(p.startswith("s3://") for p in paths(entry[key]))
    }
    assert local == {}, "docs/scaling.md section 3 leaves these on the local disk"
    # the model and scaler that training saves are the files the model_versions row hashes
    record = prod["model_version_record"]
    assert record["model_filepath"] == prod["lstm_model"]["filepath"]
    assert record["scaler_filepath"] == prod["scaler"]["filepath"]
    # ...and the files the API loads are the ones training saves
    for name, path in record["serving_filepaths"].items():
        assert path == prod[name]["filepath"], name
    # each restated entry is base's entry with its paths changed, nothing else
    for name in with_paths:
        strip = {k: v for k, v in base[name].items() if k not in PATH_KEYS}
        assert {k: v for k, v in prod[name].items() if k not in PATH_KEYS} == strip, name


def test_base_path_variables_do_not_reach_another_environment(tmp_path: Path) -> None:
    """Why the docs restate each entry: overriding only `_model_filepath` changes nothing."""
    conf = tmp_path / "conf"
    shutil.copytree(PROJECT_ROOT / "conf" / "base", conf / "base")
    (conf / "prod").mkdir()
    (conf / "prod" / "catalog_s3.yml").write_text("_model_filepath: s3://b/lstm_model.keras\n")
    assert not catalog(conf, "prod")["lstm_model"]["filepath"].startswith("s3://")
