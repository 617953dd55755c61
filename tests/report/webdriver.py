"""Headless Chromium driven by chromedriver over the W3C WebDriver protocol, with urllib.

Why this way: the protocol is a W3C standard that Debian's chromium-driver speaks, a
dozen HTTP calls cover what the tests need (open a page, run a query in it, see whether
a dialog opened, take a screenshot), and nothing beyond the standard library is needed;
`--dump-dom` alone could not tell whether an `alert()` ran. chromedriver listens on
127.0.0.1 only, Chromium gets a new empty profile, and both are stopped by their own
quit command, then by pid.
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from tests.e2e.postfix import free_port

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                  "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync"]


def available() -> bool:
    return bool(shutil.which("chromedriver") and chromium())


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


class WebDriverError(RuntimeError):
    def __init__(self, error: str, message: str) -> None:
        super().__init__(f"{error}: {message}")
        self.error = error


class Browser:
    def __init__(self, workdir: Path, width: int = 1280, height: int = 1600) -> None:
        self.port = free_port()
        self.log = workdir / "chromedriver.log"
        self.profile = workdir / "profile"
        self.profile.mkdir()
        self.process = subprocess.Popen(
            ["chromedriver", f"--port={self.port}", "--allowed-ips=127.0.0.1",
             f"--log-path={self.log}"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.session: str | None = None
        try:
            self._wait_ready()
            options = {"binary": chromium(),
                       "args": [*CHROMIUM_FLAGS, f"--user-data-dir={self.profile}",
                                f"--window-size={width},{height}"]}
            value = self._call("POST", "/session", {"capabilities": {"alwaysMatch": {
                "browserName": "chrome", "goog:chromeOptions": options,
                "unhandledPromptBehavior": "ignore"}}})
            self.session = value["sessionId"]
        except BaseException:
            self.close()
            raise

    def _wait_ready(self, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                if self._call("GET", "/status").get("ready"):
                    return
            except (OSError, WebDriverError):
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"chromedriver did not start; see {self.log}")
            time.sleep(0.1)

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}{path}", data=data, method=method,
            headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return json.loads(response.read())["value"]
        except urllib.error.HTTPError as exc:
            value = json.loads(exc.read() or b"{}").get("value", {})
            raise WebDriverError(value.get("error", str(exc.code)),
                                 value.get("message", "")) from None

    def _session(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        return self._call(method, f"/session/{self.session}{path}", body)

    def open(self, path: Path) -> None:
        self._session("POST", "/url", {"url": path.resolve().as_uri()})

    def url(self) -> str:
        return self._session("GET", "/url")

    def run(self, script: str, *args: Any) -> Any:
        """The value of a function body run in the page (WebDriver scripts are not
        subject to the page's Content-Security-Policy)."""
        return self._session("POST", "/execute/sync", {"script": script, "args": list(args)})

    def alert(self) -> str | None:
        """The text of an open dialog (alert, confirm, prompt), or None."""
        try:
            return self._session("GET", "/alert/text")
        except WebDriverError as exc:
            if exc.error == "no such alert":
                return None
            raise

    def click_link(self, text: str) -> None:
        element = self._session("POST", "/element", {"using": "link text", "value": text})
        reference = next(iter(element.values()))
        self._session("POST", f"/element/{reference}/click", {})

    def resize(self, width: int, height: int) -> None:
        self._session("POST", "/window/rect", {"width": width, "height": height})

    def screenshot(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(self._session("GET", "/screenshot")))
        return path

    def close(self) -> None:
        """Quit Chromium through the session, then stop chromedriver by its pid."""
        try:
            if self.session is not None:
                self._call("DELETE", f"/session/{self.session}")
        except (OSError, WebDriverError):
            pass
        finally:
            self.session = None
            if self.process.poll() is None:
                self.process.terminate()
                try:
                    self.process.wait(10)
                except subprocess.TimeoutExpired:
                    self.process.kill()
                    self.process.wait(5)

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
