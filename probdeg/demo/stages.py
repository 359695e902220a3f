"""Resumable stages: each finished stage leaves a record; a rerun reuses the stages whose settings did not change.

A record is ``out/stages/<key>.json``: the stage's settings (``config``, which include the run ids of the stages it
builds on), whether it ``finished``, its ``run_id``, ``seconds`` and what it made. It is written before the work
starts (``finished: false``) and again after, atomically, so an interrupted stage is recognised and resumed.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from ..io import atomic_path


@dataclass(frozen=True)
class StageRecord:
    """A finished stage, as its record file holds it.

    Attributes:
        key: the stage (``data``, ``g_<generator>``, ``lr_<source>``, ``sr_<run>``).
        config: the settings it ran with (its upstream stages' run ids included).
        run_id: a fresh id per finished run: the stages built on it record it.
        seconds: its work's wall time.
        models: the checkpoints a training wrote (none for other stages).
        folder: the folder an LR stage filled.
        experiment: a training's experiment folder.
        command: the shell command that runs the same training.
        made: anything else the stage recorded (the data stage's ``folders``).
    """

    key: str
    config: dict[str, Any]
    run_id: str
    seconds: float
    models: tuple[Path, ...] = ()
    folder: Optional[Path] = None
    experiment: Optional[Path] = None
    command: Optional[str] = None
    made: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(cls, key: str, record: dict[str, Any]) -> StageRecord:
        known = {"config", "finished", "run_id", "seconds", "models", "folder", "experiment", "command"}
        return cls(key, record.get("config") or {}, str(record.get("run_id", "")), float(record.get("seconds", 0.0)),
                   tuple(Path(m) for m in record.get("models") or ()),
                   Path(record["folder"]) if record.get("folder") else None,
                   Path(record["experiment"]) if record.get("experiment") else None,
                   record.get("command"), {k: v for k, v in record.items() if k not in known})

    @property
    def model_paths(self) -> list[str]:
        """:attr:`models` as strings (what ``probdeg sr --model`` takes)."""
        return [str(m) for m in self.models]


class Records(Mapping[str, StageRecord]):
    """The finished stages of one run by key, with accessors by what a stage is."""

    def __init__(self) -> None:
        self._records: dict[str, StageRecord] = {}

    def __getitem__(self, key: str) -> StageRecord:
        return self._records[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._records)

    def __len__(self) -> int:
        return len(self._records)

    def add(self, record: StageRecord) -> StageRecord:
        self._records[record.key] = record
        return record

    def run_id(self, key: str) -> str:
        return self._records[key].run_id

    def generator(self, key: str) -> Path:
        """The checkpoint of generator ``key`` (stage ``g_<key>``)."""
        return self._records[f"g_{key}"].models[0]

    def sr(self, key: str) -> StageRecord:
        """SR run ``key`` (stage ``sr_<key>``)."""
        return self._records[f"sr_{key}"]

    def has_sr(self, key: str) -> bool:
        return f"sr_{key}" in self._records

    def lr(self, key: str) -> Optional[StageRecord]:
        """The offline LR of source ``key`` (stage ``lr_<key>``), if it was made."""
        return self._records.get(f"lr_{key}")

    def trained(self) -> list[StageRecord]:
        """Every stage but the data's, in the order they finished."""
        return [r for k, r in self._records.items() if k != "data"]


class StageStore:
    """The records of one demo folder."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)

    def _path(self, key: str) -> Path:
        return self.folder / f"{key}.json"

    def load(self, key: str) -> Optional[dict[str, Any]]:
        """The record of ``key``, or ``None`` when there is none (or it cannot be read: the stage runs again)."""
        try:
            record = json.loads(self._path(key).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return record if isinstance(record, dict) else None

    def _write(self, key: str, record: dict[str, Any]) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        with atomic_path(self._path(key)) as tmp:
            tmp.write_text(json.dumps(record, indent=2, default=str) + "\n", encoding="utf-8")

    def finished(self, key: str, config: dict[str, Any]) -> Optional[StageRecord]:
        """The record of ``key`` if it finished with these settings, else ``None``."""
        record = self.load(key)
        if record and record.get("finished") and record.get("config") == _plain(config):
            return StageRecord.from_json(key, record)
        return None

    def interrupted(self, key: str, config: dict[str, Any]) -> bool:
        """``key`` was started with these settings and did not finish."""
        record = self.load(key)
        return bool(record) and not record.get("finished") and record.get("config") == _plain(config)

    def start(self, key: str, config: dict[str, Any]) -> None:
        self._write(key, {"config": _plain(config), "finished": False})

    def finish(self, key: str, config: dict[str, Any], seconds: float, **made: Any) -> StageRecord:
        record = {"config": _plain(config), "finished": True, "run_id": uuid.uuid4().hex, "seconds": seconds,
                  **_plain(made)}
        self._write(key, record)
        return StageRecord.from_json(key, record)


def _plain(value: Any) -> Any:
    """JSON's view of ``value`` (tuples become lists, paths strings), so stored and fresh settings compare equal."""
    return json.loads(json.dumps(value, default=str))
