"""Sync latency benchmark (issue 14 item 4): how long a client waits for POST /v1/compress `balanced`.

    .venv/bin/python bench/sync_latency.py [--production] [--max-mp 12] [--only TEXT] [--env KEY=VALUE ...]

Runs the real `make run` stack (`python -m crush.honcho_run --procfile Procfile start`, as
bench/responsiveness.py starts it) on a free loopback port — on the embedded defaults, or with `--production`
on PostgreSQL (database `crush_syncbench`, dropped and created again) and a private `redis-server` — then
sends every file of the sweep corpus (bench/corpus/build-sweep-dev.sh) of at most `--max-mp` megapixels, one
request at a time, each as a multipart upload on a new connection with `compression_type=balanced`, and
records each request's wall time, HTTP status and job status (`completed`, or `processing` when it outlasted
CRUSH_SYNC_WAIT_SECONDS).

Which files: the pixel count (of one frame) comes from a header probe with the service's limits
(`engine.probe`); PDFs and SVGs have none and count when they are within their own limits (pages, bytes).
Files the probe refuses (the corpus's damaged files) are not sent; the report counts them.

Target (issue 14): p95 ≤ 5 s over the files sent (the ImageRecycle PHP client gives up after 10 s). Prints a
markdown report (per format n, completed, p50, p95, max; the slowest files) and writes it with the JSON of
every request to var/bench/sync-latency-<UTC time>.{md,json}. The machine may be shared: the load average
before and after is part of the report.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

# bench/ is the script's directory
from responsiveness import (
    READY_TIMEOUT_SECONDS,
    _percentile,
    _ready,
    manage,
    stack_environment,
    stack_start,
    stack_stop,
)
from services_env import database_recreate, free_port, wait_for
from sweep import DEFAULT_CORPUS, FORMATS, read_manifest, service_limits

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
PROCFILE = ROOT / "Procfile"
P95_TARGET_SECONDS = 5.0
CLIENT_TIMEOUT_SECONDS = 10.0  # the ImageRecycle PHP client's hard cURL timeout: a request past it is lost
REQUEST_TIMEOUT_SECONDS = 180.0  # far past CRUSH_SYNC_WAIT_SECONDS: this client waits for every answer
SLOWEST = 15
# The corpus and its originals exceed the default monthly allowance; the quota is not what is measured.
PLAN_BYTES = 64 * 2**30


# ---------------------------------------------------------------- plan


def plan(
    corpus: Path, max_pixels: int, only: str | None
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The files to send (sorted by format, then name) and those left out, each with why."""
    sys.path.insert(0, str(ROOT))
    from compression import engine

    limits = service_limits()
    engine_limits = engine.EngineLimits(**{k: v for k, v in limits.items() if k != "time_limit_seconds"})
    send: list[dict[str, Any]] = []
    skipped: list[dict[str, Any]] = []
    for row in sorted(read_manifest(corpus), key=lambda r: r["file"]):
        if only and only not in row["file"]:
            continue
        data = (corpus / row["file"]).read_bytes()
        entry: dict[str, Any] = {"file": row["file"], "fmt": row["file"].split("/", 1)[0], "bytes": len(data)}
        try:
            probe = engine.probe(data, limits=engine_limits)
        except engine.EngineError as exc:
            skipped.append(entry | {"why": f"probe: {exc.message}"})
            continue
        pixels = probe.width * probe.height if probe.width and probe.height else None
        entry |= {"mp": None if pixels is None else round(pixels / 1e6, 2), "frames": probe.frames}
        if pixels is not None and pixels > max_pixels:
            skipped.append(entry | {"why": f"{pixels / 1e6:.1f} MP"})
            continue
        send.append(entry)
    return send, skipped


# ---------------------------------------------------------------- requests


def compress(base: str, headers: dict[str, str], corpus: Path, entry: dict[str, Any]) -> dict[str, Any]:
    """One sync `balanced` POST /v1/compress on a new connection: wall seconds, HTTP and job status."""
    import requests

    path = corpus / entry["file"]
    result = dict(entry)
    started = time.perf_counter()
    try:
        with path.open("rb") as file:
            response = requests.post(
                f"{base}/v1/compress",
                headers=headers,
                files={"file": (path.name, file, "application/octet-stream")},
                data={"compression_type": "balanced"},
                timeout=REQUEST_TIMEOUT_SECONDS,
            )
        result["seconds"] = time.perf_counter() - started
        result["http"] = response.status_code
        try:
            body = response.json()
        except ValueError:
            result["body"] = response.text[:300]
            return result
        original = body.get("original_image") or {}
        result["status"] = original.get("status")
        if not original:
            result["message"] = str(body.get("message"))[:300]
        main = next((o for o in original.get("optimized_images") or [] if o.get("style") == "original"), None)
        if main:
            result["out_bytes"] = main.get("size")
            result["ssimulacra2"] = main.get("ssimulacra2")
            result["kept_original"] = main.get("kept_original")
            result["warning"] = main.get("warning")
    except requests.RequestException as error:
        result["seconds"] = time.perf_counter() - started
        result["http"] = None
        result["error"] = f"{type(error).__name__}: {error}"[:300]
    return result


def run_all(
    base: str, headers: dict[str, str], corpus: Path, files: list[dict[str, Any]], alive: Callable[[], bool]
) -> list[dict[str, Any]]:
    """Every file in turn; stops when the stack has exited (what was not sent is left out of the report)."""
    results = []
    for index, entry in enumerate(files, 1):
        if not alive():
            print(f"the stack exited: {len(files) - index + 1} files not sent", file=sys.stderr)
            break
        result = compress(base, headers, corpus, entry)
        results.append(result)
        print(
            f"[{index}/{len(files)}] {result['file']}: {result['seconds']:.2f} s "
            f"{result.get('http')} "
            f"{result.get('status') or result.get('error') or result.get('message', '')}",
            file=sys.stderr,
            flush=True,
        )
    return results


# ---------------------------------------------------------------- report


def summary(results: list[dict[str, Any]]) -> dict[str, Any]:
    seconds = [r["seconds"] for r in results]
    return {
        "n": len(results),
        "completed": sum(1 for r in results if r.get("status") == "completed"),
        "processing": sum(1 for r in results if r.get("status") == "processing"),
        "refused": sum(1 for r in results if r.get("http") and 400 <= r["http"] < 500),
        "failed": sum(
            1
            for r in results
            if r.get("status") not in ("completed", "processing") and not (r.get("http") and r["http"] < 500)
        ),
        "over_client_timeout": sum(1 for s in seconds if s > CLIENT_TIMEOUT_SECONDS),
        "warned": sum(1 for r in results if r.get("warning")),  # out of time, or an optimizer fell back
        "bytes_in": sum(r["bytes"] for r in results if r.get("out_bytes") is not None),
        "bytes_out": sum(r["out_bytes"] for r in results if r.get("out_bytes") is not None),
        "p50": statistics.median(seconds) if seconds else None,
        "p95": _percentile(seconds, 0.95) if seconds else None,
        "max": max(seconds) if seconds else None,
    }


def _s(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"


def render(report: dict[str, Any]) -> str:
    every = report["all"]
    met = (
        every["p95"] is not None
        and every["p95"] <= P95_TARGET_SECONDS
        and every["failed"] == 0
        and not report["not_sent"]
    )
    lines = [
        f"{report['host']}: {report['cpus']} CPUs, Python {report['python']}, commit {report['commit']}, "
        f"{report['started']} UTC; stack `{report['stack']}`; load average (1/5/15 min) "
        f"{'/'.join(f'{x:.2f}' for x in report['load_before'])} before, "
        f"{'/'.join(f'{x:.2f}' for x in report['load_after'])} after; {report['wall_seconds']:.0f} s wall",
        f"Command: `{report['command']}`"
        + (f"; settings {report['settings']}" if report["settings"] else ""),
        "",
        f"Sync `balanced` POST /v1/compress, one at a time, every file of {report['corpus']} ≤ "
        f"{report['max_mp']:g} MP ({len(report['skipped'])} left out: larger, or refused by the probe"
        + (f"; **{report['not_sent']} not sent: the stack exited**" if report["not_sent"] else "")
        + ")",
        "",
        f"| format | n | completed | processing | refused (4xx) | failed | > {CLIENT_TIMEOUT_SECONDS:.0f} s "
        "| p50 s | p95 s | max s | with a warning | bytes out / in |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for fmt, row in [*report["formats"].items(), ("**all**", every)]:
        lines.append(
            f"| {fmt} | {row['n']} | {row['completed']} | {row['processing']} | {row['refused']} | "
            f"{row['failed']} | "
            f"{row['over_client_timeout']} | {_s(row['p50'])} | {_s(row['p95'])} | {_s(row['max'])} | "
            f"{row['warned']} | {row['bytes_out'] / row['bytes_in'] if row['bytes_in'] else 0:.3f} |"
        )
    lines += [
        "",
        f"Target p95 ≤ {P95_TARGET_SECONDS:.0f} s, none failed (5xx, reset, time-out): {'✓' if met else '✗'}",
        "",
        f"Slowest {SLOWEST}:",
        "",
        "| file | KB | MP | frames | s | HTTP | status | out KB | SSIMULACRA2 | warning |",
        "|---|---:|---:|---:|---:|---:|---|---:|---:|---|",
    ]
    for r in sorted(report["results"], key=lambda r: -r["seconds"])[:SLOWEST]:
        out, score = r.get("out_bytes"), r.get("ssimulacra2")
        lines.append(
            f"| {r['file']} | {r['bytes'] / 1000:.0f} | {r.get('mp') if r.get('mp') is not None else '–'} | "
            f"{r.get('frames', '')} | {r['seconds']:.2f} | {r.get('http')} | "
            f"{r.get('status') or r.get('error') or r.get('message') or r.get('body', '')} | "
            f"{'–' if out is None else f'{out / 1000:.0f}'} | "
            f"{'–' if score is None else f'{score:.1f}'} | {r.get('warning') or ''} |"
        )
    return "\n".join(lines)


# ---------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--max-mp", type=float, default=12.0, help="largest input sent, in megapixels")
    parser.add_argument("--only", help="only files whose corpus path contains this text")
    parser.add_argument("--production", action="store_true", help="PostgreSQL + a private redis-server")
    parser.add_argument("--database", default="crush_syncbench")
    parser.add_argument(
        "--env", action="append", default=[], metavar="KEY=VALUE", help="a setting for the stack (repeatable)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (logs, files)")
    args = parser.parse_args()
    if not (args.corpus / "MANIFEST.tsv").is_file():
        subprocess.run(
            ["bash", str(ROOT / "bench/corpus/build-sweep-dev.sh")], check=True, stdout=subprocess.DEVNULL
        )
    settings = dict(item.split("=", 1) for item in args.env)

    commit = subprocess.run(  # the code the stack runs: read before it starts
        ["git", "-C", str(ROOT), "describe", "--always", "--dirty"], capture_output=True, text=True
    ).stdout.strip()
    files, skipped = plan(args.corpus, round(args.max_mp * 1e6), args.only)
    print(f"{len(files)} files to send, {len(skipped)} left out", file=sys.stderr)
    started = datetime.datetime.now(datetime.UTC)
    var_dir = Path(tempfile.mkdtemp(prefix="crush-bench-sync-"))
    processes: list[subprocess.Popen[bytes]] = []
    stack = None
    try:
        env, stack_name = stack_environment(args.production, args.database, var_dir, processes)
        env.update(settings)
        (var_dir / "var").mkdir()
        manage(env, "migrate", "--noinput")
        created = manage(env, "create_account", "bench", "--plan-bytes", str(PLAN_BYTES))
        token = json.loads(created.strip().splitlines()[-1])["token"]
        headers = {"Authorization": f"Bearer {token}"}
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        stack = stack_start(env, PROCFILE, port, var_dir / "honcho.log")
        wait_for("/health/ready", lambda: stack.poll() is None and _ready(base), READY_TIMEOUT_SECONDS)
        time.sleep(5)  # the workers finish starting (readiness only needs the web process)
        load_before = os.getloadavg()
        clock = time.monotonic()
        results = run_all(base, headers, args.corpus, files, alive=lambda: stack.poll() is None)
        wall = time.monotonic() - clock
        load_after = os.getloadavg()
    finally:
        if stack is not None:
            stack_stop(stack)
        for process in processes:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=30)
        if args.production:
            database_recreate(args.database, create=False)

    by_format: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for result in results:
        by_format[result["fmt"]].append(result)
    report = {
        "command": " ".join(["bench/sync_latency.py", *sys.argv[1:]]),
        "started": started.strftime("%Y-%m-%d %H:%M"),
        "commit": commit,
        "host": platform.node(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "stack": stack_name,
        "settings": settings,
        "corpus": str(args.corpus),
        "max_mp": args.max_mp,
        "load_before": [round(x, 2) for x in load_before],
        "load_after": [round(x, 2) for x in load_after],
        "wall_seconds": wall,
        "formats": {fmt: summary(by_format[fmt]) for fmt in FORMATS if by_format[fmt]},
        "all": summary(results),
        "skipped": skipped,
        "not_sent": len(files) - len(results),
        "results": results,
    }
    out = ROOT / "var" / "bench"
    out.mkdir(parents=True, exist_ok=True)
    stem = out / f"sync-latency-{started.strftime('%Y%m%dT%H%M%S')}"
    stem.with_suffix(".json").write_text(json.dumps(report, indent=1))
    text = render(report)
    stem.with_suffix(".md").write_text(text + "\n")
    shutil.copy(var_dir / "honcho.log", f"{stem}-honcho.log")  # the stack's own log, to explain what is slow
    print()
    print(text)
    print()
    print(f"report: {stem}.{{md,json}}")
    if args.keep:
        print(f"kept: {var_dir}")
    else:
        shutil.rmtree(var_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
