"""Start and query a local Prometheus server process (the ``prometheus`` binary).

Development tooling, not the SDK: one launcher serves ``otel-workflow demo --prometheus``
and the test suite's real-Prometheus fixture (``tests/support/prometheus.py``).  The shipped
Prometheus config and rules come with the package (:data:`SHIPPED_CONFIG_DIR`, copies of
``collector-config/prometheus/`` that a test keeps equal), so the demo finds them after a
plain ``pip install``.  It binds to 127.0.0.1 on a free port, keeps its
TSDB in a directory the caller owns, scrapes the given targets every second, and offers the
HTTP API calls tests and the demo need.  Only the standard library is used, so the core
package does not grow a dependency for it.

Example::

    from otel_workflow.demo.prometheus import PrometheusProcess, find_prometheus

    prom = PrometheusProcess.start(
        binary=find_prometheus() or "prometheus",
        workdir=Path("/tmp/prom"),
        targets=["127.0.0.1:9464"],
    )
    try:
        prom.wait_for_scrape()
        print(prom.query("up"))
    finally:
        prom.stop()

Exemplars: Prometheus 2.x asks for the OpenMetrics text format first in its ``Accept``
header, so exemplars are ingested once ``--enable-feature=exemplar-storage`` is on (the
``scrape_protocols`` setting only exists from 2.49; it is written when the binary is new
enough).
"""

from __future__ import annotations

import json
import re
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from otel_workflow._polling import wait_until

__all__ = [
    "SHIPPED_CONFIG_DIR",
    "PrometheusError",
    "PrometheusProcess",
    "find_prometheus",
    "free_port",
    "graph_url",
    "prometheus_version",
    "render_config",
]

SHIPPED_CONFIG_DIR = Path(__file__).resolve().parent / "data"
"""``prometheus.yml`` and ``rules/*.yml`` as shipped in ``collector-config/prometheus/``."""

_HOST = "127.0.0.1"
# OpenMetrics first, so the server keeps exemplars; classic text as a fallback.
_SCRAPE_PROTOCOLS = ("OpenMetricsText1.0.0", "OpenMetricsText0.0.1", "PrometheusText0.0.4")


def _rfc3339_seconds(text: str) -> float:
    """Unix seconds of a Prometheus RFC 3339 timestamp (nanoseconds cut to microseconds)."""
    match = re.fullmatch(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)", text)
    if match is None:
        return 0.0
    zone = "+00:00" if match.group(3) == "Z" else match.group(3)
    fraction = (match.group(2) or "0")[:6].ljust(6, "0")
    return datetime.fromisoformat(f"{match.group(1)}.{fraction}{zone}").timestamp()


class PrometheusError(RuntimeError):
    """The Prometheus process failed to start, or an API call returned an error."""


def find_prometheus() -> str | None:
    """Path of the ``prometheus`` binary on ``PATH``, or None."""
    return shutil.which("prometheus")


def prometheus_version(binary: str) -> tuple[int, int, int]:
    """The ``(major, minor, patch)`` version the binary reports (``(0, 0, 0)`` if unknown)."""
    try:
        out = subprocess.run(
            [binary, "--version"], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return (0, 0, 0)
    match = re.search(r"version (\d+)\.(\d+)\.(\d+)", out.stdout + out.stderr)
    if match is None:
        return (0, 0, 0)
    return (int(match.group(1)), int(match.group(2)), int(match.group(3)))


def free_port(host: str = _HOST) -> int:
    """A TCP port that was free on ``host`` a moment ago (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def graph_url(base_url: str, expr: str, range_input: str = "15m") -> str:
    """A link to Prometheus's own graph page showing ``expr``."""
    query = urllib.parse.urlencode({"g0.expr": expr, "g0.tab": "0", "g0.range_input": range_input})
    return f"{base_url.rstrip('/')}/graph?{query}"


def render_config(
    targets: Sequence[str],
    *,
    job_name: str = "otel-workflow",
    scrape_interval: str = "1s",
    evaluation_interval: str = "1s",
    rule_files: Sequence[str | Path] = (),
    scrape_protocols: bool = False,
) -> str:
    """A Prometheus configuration scraping ``targets`` (``host:port``), as text.

    JSON is written: it is valid YAML, so the standard library suffices.
    """
    if isinstance(targets, str):
        raise TypeError("targets must be a sequence of 'host:port' strings, not one string")
    for target in targets:
        if not isinstance(target, str) or ":" not in target:
            raise ValueError(f"scrape target must look like 'host:port', got {target!r}")
    job: dict[str, Any] = {
        "job_name": job_name,
        "scrape_interval": scrape_interval,
        "scrape_timeout": scrape_interval,
        "metrics_path": "/metrics",
        "static_configs": [{"targets": list(targets)}],
    }
    if scrape_protocols:
        job["scrape_protocols"] = list(_SCRAPE_PROTOCOLS)
    config: dict[str, Any] = {
        "global": {
            "scrape_interval": scrape_interval,
            "evaluation_interval": evaluation_interval,
        },
        "rule_files": [str(Path(p).resolve()) for p in rule_files],
        "scrape_configs": [job],
    }
    return json.dumps(config, indent=2, sort_keys=True) + "\n"


class PrometheusProcess:
    """A running Prometheus server on 127.0.0.1 and a small client for its HTTP API."""

    def __init__(self, process: subprocess.Popen[bytes], port: int, log_path: Path) -> None:
        self._process = process
        self.port = port
        self.log_path = log_path
        self.url = f"http://{_HOST}:{port}"

    # --- lifecycle ------------------------------------------------------------------------
    @classmethod
    def start(
        cls,
        *,
        binary: str,
        workdir: Path,
        targets: Sequence[str] = (),
        config_text: str | None = None,
        rule_files: Sequence[str | Path] = (),
        scrape_interval: str = "1s",
        ready_timeout: float = 60.0,
        extra_args: Iterable[str] = (),
    ) -> PrometheusProcess:
        """Start ``binary`` with its storage and config in ``workdir``; return once ready.

        Either ``targets`` (a config is generated) or ``config_text`` (used as it is).
        Retries on another port if the one picked was taken in the meantime.
        """
        if config_text is None and not targets:
            raise ValueError("give scrape targets or a config_text")
        workdir = Path(workdir)
        workdir.mkdir(parents=True, exist_ok=True)
        if config_text is None:
            new_enough = prometheus_version(binary) >= (2, 49, 0)
            config_text = render_config(
                targets,
                scrape_interval=scrape_interval,
                evaluation_interval=scrape_interval,
                rule_files=rule_files,
                scrape_protocols=new_enough,
            )
        config_path = workdir / "prometheus.yml"
        config_path.write_text(config_text, encoding="utf-8")
        last_error: PrometheusError | None = None
        for attempt in range(3):
            port = free_port()
            log_path = workdir / f"prometheus-{attempt}.log"
            args = [
                binary,
                f"--config.file={config_path}",
                f"--storage.tsdb.path={workdir / 'data'}",
                f"--web.listen-address={_HOST}:{port}",
                "--enable-feature=exemplar-storage",
                "--web.enable-lifecycle",
                "--log.level=warn",
                *extra_args,
            ]
            with open(log_path, "wb") as log:
                process = subprocess.Popen(
                    args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
                )
            server = cls(process, port, log_path)
            try:
                server.wait_ready(ready_timeout)
                return server
            except PrometheusError as exc:
                server.stop()
                last_error = exc
                if "address already in use" not in server.log_tail().lower():
                    break
        assert last_error is not None
        raise last_error

    def running(self) -> bool:
        """Whether the process is still alive."""
        return self._process.poll() is None

    def stop(self, timeout: float = 15.0) -> None:
        """Terminate the process (kill it if it does not exit within ``timeout``)."""
        if self._process.poll() is not None:
            return
        self._process.terminate()
        try:
            self._process.wait(timeout)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait(timeout)

    def __enter__(self) -> PrometheusProcess:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def log_tail(self, lines: int = 30) -> str:
        """The last lines Prometheus wrote to its log."""
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    # --- waiting --------------------------------------------------------------------------
    def wait_ready(self, timeout: float = 60.0) -> None:
        """Block until ``/-/ready`` answers 200 (raise PrometheusError on exit or deadline)."""

        def ready() -> bool:
            if not self.running():
                raise PrometheusError(f"prometheus exited at start-up:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(f"{self.url}/-/ready", timeout=2) as resp:
                    return bool(resp.status == 200)
            except (OSError, urllib.error.URLError):
                return False

        wait_until(ready, timeout, error=lambda: PrometheusError(
            f"prometheus not ready after {timeout}s:\n{self.log_tail()}"))  # fmt: skip

    def targets(self) -> list[dict[str, Any]]:
        """The active scrape targets as the ``/api/v1/targets`` endpoint reports them."""
        data = self._get("/api/v1/targets", {"state": "active"})
        return list(data.get("activeTargets", []))

    def wait_for_scrape(self, timeout: float = 60.0, scrapes: int = 1) -> None:
        """Block until every target has been scraped successfully ``scrapes`` more times.

        Counts only scrapes that started after the call, so whatever the targets exposed
        before it is in Prometheus once this returns.
        """
        started = time.time()  # Prometheus stamps scrapes with this machine's wall clock
        counted: dict[str, set[str]] = {}
        targets: list[dict[str, Any]] = []

        def scraped() -> bool:
            targets[:] = self.targets()
            for target in targets:
                key = str(target.get("scrapeUrl"))
                last = str(target.get("lastScrape", ""))
                fresh = _rfc3339_seconds(last) >= started
                if fresh and target.get("health") == "up":
                    counted.setdefault(key, set()).add(last)
            seen = {key: len(values) for key, values in counted.items()}
            return bool(targets) and all(
                seen.get(str(t.get("scrapeUrl")), 0) >= scrapes for t in targets
            )

        wait_until(scraped, timeout, interval=0.1, error=lambda: PrometheusError(
            f"targets not scraped within {timeout}s: {targets!r}"))  # fmt: skip

    def wait_for(
        self,
        promql: str,
        predicate: Callable[[list[dict[str, Any]]], bool] = bool,
        timeout: float = 60.0,
    ) -> list[dict[str, Any]]:
        """Re-run an instant query until ``predicate(result)`` holds; return that result."""
        last: list[list[dict[str, Any]]] = [[]]

        def holds() -> list[list[dict[str, Any]]] | None:
            last[0] = self.query(promql)
            # Wrapped so that an empty result the predicate accepts still counts as met.
            return [last[0]] if predicate(last[0]) else None

        return wait_until(holds, timeout, interval=0.1, error=lambda: PrometheusError(
            f"condition on {promql!r} not met within {timeout}s; last result {last[0]!r}"
        ))[0]  # fmt: skip

    def wait_for_exemplars(
        self, promql: str, timeout: float = 60.0, lookback: float = 3600.0
    ) -> list[dict[str, Any]]:
        """Re-run an exemplar query over the last ``lookback`` seconds until it finds some."""

        def found() -> list[dict[str, Any]] | None:
            now = time.time()
            result = self.query_exemplars(promql, now - lookback, now + 60)
            return result if any(group.get("exemplars") for group in result) else None

        return wait_until(found, timeout, interval=0.1, error=lambda: PrometheusError(
            f"no exemplars for {promql!r} within {timeout}s"))  # fmt: skip

    # --- HTTP API -------------------------------------------------------------------------
    def query(self, promql: str, time: float | None = None) -> list[dict[str, Any]]:
        """An instant query; returns ``data.result`` (a list for vectors, wrapped for scalars)."""
        params: dict[str, str] = {"query": promql}
        if time is not None:
            params["time"] = repr(float(time))
        data = self._get("/api/v1/query", params)
        result = data.get("result", [])
        if data.get("resultType") in ("scalar", "string"):
            return [{"metric": {}, "value": result}]
        return list(result)

    def query_range(
        self, promql: str, start: float, end: float, step: float = 1.0
    ) -> list[dict[str, Any]]:
        """A range query between ``start`` and ``end`` (Unix seconds); returns the matrix."""
        if step <= 0:
            raise ValueError(f"step must be positive, got {step!r}")
        params = {
            "query": promql,
            "start": repr(float(start)),
            "end": repr(float(end)),
            "step": repr(float(step)),
        }
        return list(self._get("/api/v1/query_range", params).get("result", []))

    def query_exemplars(self, promql: str, start: float, end: float) -> list[dict[str, Any]]:
        """Exemplars of the series ``promql`` selects between ``start`` and ``end``."""
        params = {"query": promql, "start": repr(float(start)), "end": repr(float(end))}
        data = self._get("/api/v1/query_exemplars", params)
        return list(data) if isinstance(data, list) else []

    def graph_url(self, promql: str, range_input: str = "15m") -> str:
        """A link to this server's graph page for ``promql``."""
        return graph_url(self.url, promql, range_input)

    def _get(self, path: str, params: Mapping[str, str]) -> Any:
        url = f"{self.url}{path}?{urllib.parse.urlencode(params)}"
        try:
            with urllib.request.urlopen(url, timeout=30) as resp:
                body = json.loads(resp.read().decode("utf-8"))
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode("utf-8", errors="replace")
            raise PrometheusError(f"GET {path} failed ({exc.code}): {detail}") from exc
        except (OSError, ValueError) as exc:
            raise PrometheusError(f"GET {path} failed: {exc}") from exc
        if body.get("status") != "success":
            raise PrometheusError(f"GET {path} {dict(params)!r}: {body.get('error', body)!r}")
        return body.get("data")
