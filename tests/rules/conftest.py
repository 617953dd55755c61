"""Helpers that turn rules text into diagnostics or rule sets, as a file would."""

from __future__ import annotations

from pathlib import Path

import pytest

from mailspy.rules.load import LoadResult, load_rules


@pytest.fixture
def load(tmp_path: Path):
    """load("rules text", ...) -> LoadResult; each text becomes NN-file.rules."""

    def _load(*texts: str) -> LoadResult:
        for i, text in enumerate(texts):
            (tmp_path / f"{i:02d}-file.rules").write_text(text)
        return load_rules(tmp_path)

    return _load


@pytest.fixture
def problems(tmp_path: Path, load):
    """problems("rules text") -> ["00-file.rules:L:C: error: ..."] with short file names."""

    def _problems(*texts: str) -> list[str]:
        result = load(*texts)
        return [str(d).replace(f"{tmp_path}/", "") for d in result.diagnostics]

    return _problems
