"""Model artifacts as Kedro datasets: raw bytes (the ONNX export) and the run's save version."""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Any

import fsspec
from kedro.io import AbstractDataset, AbstractVersionedDataset, DatasetError
from kedro.io.core import Version, get_filepath_str, get_protocol_and_path


class BytesDataset(AbstractVersionedDataset[bytes, bytes]):
    """A file's raw bytes, optionally versioned: the ONNX export (`onnx_model`), which ONNX
    Runtime builds a session from. Any fsspec filepath (local, s3://, memory://)."""

    def __init__(
        self,
        *,
        filepath: str,
        version: Version | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        protocol, path = get_protocol_and_path(filepath, version)
        self._protocol = protocol
        self._fs = fsspec.filesystem(
            protocol, **({"auto_mkdir": True} if protocol == "file" else {})
        )
        self.metadata = metadata
        super().__init__(
            filepath=PurePosixPath(path),
            version=version,
            exists_function=self._fs.exists,
            glob_function=self._fs.glob,
        )

    def _describe(self) -> dict[str, Any]:
        return {"filepath": self._filepath, "protocol": self._protocol, "version": self._version}

    def load(self) -> bytes:
        with self._fs.open(get_filepath_str(self._get_load_path(), self._protocol), "rb") as f:
            return f.read()

    def save(self, data: bytes) -> None:
        if not isinstance(data, bytes | bytearray):
            raise DatasetError(f"BytesDataset saves bytes, got {type(data).__name__}")
        with self._fs.open(get_filepath_str(self._get_save_path(), self._protocol), "wb") as f:
            f.write(bytes(data))
        self._fs.invalidate_cache(get_filepath_str(self._filepath, self._protocol))

    def _exists(self) -> bool:
        try:
            path = get_filepath_str(self._get_load_path(), self._protocol)
        except DatasetError:
            return False
        return self._fs.exists(path)


class SaveVersionDataset(AbstractDataset[str, None]):
    """Read-only: the Kedro save version of this run, under which every versioned artifact the
    run saves (lstm_model, scaler, interval_calibration, training_history) is written.

    The training pipeline records it in the interval calibration, so evaluation knows exactly
    which model version the calibration (and, through its fingerprints, the model and scaler)
    belongs to. Always versioned: the catalog hands it the session's save version.
    """

    versioned = True  # kedro.io.core reads this: the catalog passes Version(load, save)

    def __init__(self, *, version: Version | None = None, metadata: dict[str, Any] | None = None):
        self._version = version
        self.metadata = metadata

    def _describe(self) -> dict[str, Any]:
        return {"version": self._version}

    def load(self) -> str:
        if self._version is None or not self._version.save:
            raise DatasetError("no save version: run through a Kedro session (`kedro run`)")
        return str(self._version.save)

    def save(self, data: None) -> None:
        raise DatasetError("SaveVersionDataset is read-only")
