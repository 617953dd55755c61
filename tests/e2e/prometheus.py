"""A private Prometheus on 127.0.0.1 for tests of `mailspy run --metrics-listen`.

Its own configuration and data directory in a folder of its own; it
scrapes the targets it is given every second as job "mailspy", loads the
rule files it is given (the shipped alerting rules), and answers on a free
loopback port. Started in the foreground, stopped by its pid. No pytest in
here.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .postfix import free_port, stop_process

PROMETHEUS = shutil.which("prometheus") or ""
PROMTOOL = shutil.which("promtool") or ""
JOB = "mailspy"


def prometheus_available() -> bool:
    return bool(PROMETHEUS)


class PrivatePrometheus:
    def __init__(self, targets: Sequence[str], rule_files: Sequence[Path] = ()) -> None:
        self.base = Path(tempfile.mkdtemp(prefix="mailspy-prometheus-"))
        self.targets = list(targets)
        self.rule_files = list(rule_files)
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def config(self) -> str:
        return json.dumps({  # JSON is YAML
            "global": {"scrape_interval": "1s", "scrape_timeout": "1s",
                       "evaluation_interval": "1s"},
            "rule_files": [str(path) for path in self.rule_files],
            "scrape_configs": [{"job_name": JOB,
                                "static_configs": [{"targets": self.targets}]}],
        }, indent=1)

    def start(self, timeout: float = 30.0) -> PrivatePrometheus:
        conf = self.base / "prometheus.yml"
        conf.write_text(self.config())
        with open(self.base / "prometheus.out", "ab") as out:
            self.process = subprocess.Popen(
                [PROMETHEUS, f"--config.file={conf}",
                 f"--storage.tsdb.path={self.base / 'data'}",
                 f"--web.listen-address=127.0.0.1:{self.port}", "--log.level=warn"],
                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True)
        deadline = time.monotonic() + timeout
        while not self._ready():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"prometheus did not start:\n{self.log()}")
            time.sleep(0.1)
        return self

    def _ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/-/ready", timeout=2) as answer:
                return bool(answer.status == 200)
        except (OSError, urllib.error.URLError):
            return False

    def api(self, path: str, **params: str) -> Any:
        """The `data` of an HTTP API answer; AssertionError with Prometheus' words when
        it says the request failed."""
        url = f"{self.url}/api/v1/{path}?{urllib.parse.urlencode(params)}"
        try:
            with urllib.request.urlopen(url, timeout=10) as answer:
                body = json.load(answer)
        except urllib.error.HTTPError as exc:
            body = json.load(exc)
        assert body["status"] == "success", f"{path} {params}: {body}"
        return body["data"]

    def query(self, expr: str) -> dict[str, Any]:
        """The whole answer of an instant query, as the HTTP API gives it."""
        url = f"{self.url}/api/v1/query?{urllib.parse.urlencode({'query': expr})}"
        with urllib.request.urlopen(url, timeout=10) as answer:
            result: dict[str, Any] = json.load(answer)
        return result

    def values(self, expr: str) -> dict[tuple[tuple[str, str], ...], float]:
        """An instant query's samples: labels (sorted, without job and instance) -> value."""
        found = {}
        for sample in self.api("query", query=expr)["result"]:
            labels = tuple(sorted((k, v) for k, v in sample["metric"].items()
                                  if k not in ("job", "instance")))
            found[labels] = float(sample["value"][1])
        return found

    def value(self, expr: str) -> float | None:
        """The single value of a query, or None while it has none."""
        found = list(self.values(expr).values())
        return found[0] if len(found) == 1 else None

    def log(self) -> str:
        path = self.base / "prometheus.out"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is not None:
            stop_process(process, 20)

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.base, ignore_errors=True)
