"""The atheris harness (fuzz/fuzz_message.py): its checks, and a short fuzzing run.

`make fuzz` runs the harness for as long as asked; here, in every test
run, its `check()` must pass on the seed corpus and on the hostile corpus,
and (when atheris is installed) a short, seeded libFuzzer session must end
without a crash, a timeout or a leak. New inputs it finds go to tmp_path,
never into the repository.
"""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from tests.robustness.hostile import HOSTILE

REPO = Path(__file__).resolve().parents[2]
HARNESS = REPO / "fuzz" / "fuzz_message.py"
SEEDS = REPO / "fuzz" / "seeds"
FUZZ_SECONDS = 15


def load_harness() -> ModuleType:
    spec = importlib.util.spec_from_file_location("fuzz_message", HARNESS)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_harness_passes_every_seed() -> None:
    check = load_harness().check
    seeds = sorted(SEEDS.iterdir())
    assert len(seeds) >= 5
    for seed in seeds:
        check(seed.read_bytes())


def test_the_harness_catches_a_broken_invariant(monkeypatch: pytest.MonkeyPatch) -> None:
    harness = load_harness()
    monkeypatch.setattr(harness, "format_summary", lambda message: "a\tforged\nline\n")
    with pytest.raises(AssertionError):
        harness.check((SEEDS / "plain.eml").read_bytes())


@pytest.mark.parametrize("name", ["hostile_file_names", "nul_and_8bit_in_headers",
                                  "line_breaks_inside_values", "invalid_encoded_words",
                                  "empty_boundary", "digest_of_garbage", "envelope_8bit"])
def test_the_harness_passes_hostile_messages(name: str) -> None:
    mail = HOSTILE[name]()
    envelope = " ".join([mail.sender, *mail.recipients]).encode("utf-8", "surrogateescape")
    head = b"".join(n + b": " + v.replace(b"\n", b"\r\n ") + b"\r\n" for n, v in mail.headers)
    load_harness().check(envelope.replace(b"\n", b" ") + b"\n" + head + b"\r\n" + mail.body)


@pytest.mark.slow
def test_a_short_fuzzing_run_breaks_no_invariant(tmp_path: Path) -> None:
    pytest.importorskip("atheris", reason="atheris is not installed (pip install atheris)")
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    run = subprocess.run(
        [sys.executable, str(HARNESS), f"-max_total_time={FUZZ_SECONDS}", "-timeout=10",
         "-seed=1", "-max_len=8192", "-print_final_stats=1",
         f"-artifact_prefix={tmp_path}/", str(corpus), str(SEEDS)],
        cwd=tmp_path, capture_output=True, text=True, timeout=FUZZ_SECONDS + 120, check=False,
    )
    tail = "\n".join(run.stderr.splitlines()[-40:])
    assert run.returncode == 0, tail
    assert not list(tmp_path.glob("crash-*")) and not list(tmp_path.glob("timeout-*")), tail
    done = re.search(r"stat::number_of_executed_units: (\d+)", run.stderr)
    assert done is not None, tail
    print(f"fuzzing: {done.group(1)} executions in {FUZZ_SECONDS} s, "
          f"{len(list(corpus.iterdir()))} new inputs")
    assert int(done.group(1)) > 1000
