"""Resumable stages: each finished stage leaves a record; a rerun reuses the stages whose settings did not change.

A record is ``out/stages/<key>.json``: the stage's settings (``config``, which include the run ids of the stages it
builds on), whether it ``finished``, its ``run_id``, ``seconds`` and what it made. It is written before the work
starts (``finished: false``) and again after, atomically, so an interrupted stage is recognised and resumed.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any, Optional

from ..io import atomic_path


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

    def finished(self, key: str, config: dict[str, Any]) -> Optional[dict[str, Any]]:
        """The record of ``key`` if it finished with these settings, else ``None``."""
        record = self.load(key)
        if record and record.get("finished") and record.get("config") == _plain(config):
            return record
        return None

    def interrupted(self, key: str, config: dict[str, Any]) -> bool:
        """``key`` was started with these settings and did not finish."""
        record = self.load(key)
        return bool(record) and not record.get("finished") and record.get("config") == _plain(config)

    def start(self, key: str, config: dict[str, Any]) -> None:
        self._write(key, {"config": _plain(config), "finished": False})

    def finish(self, key: str, config: dict[str, Any], seconds: float, **made: Any) -> dict[str, Any]:
        record = {"config": _plain(config), "finished": True, "run_id": uuid.uuid4().hex, "seconds": seconds, **made}
        self._write(key, record)
        return record


def _plain(value: Any) -> Any:
    """JSON's view of ``value`` (tuples become lists, paths strings), so stored and fresh settings compare equal."""
    return json.loads(json.dumps(value, default=str))
