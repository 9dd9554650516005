"""`python -m bench quick` (a minute), `python -m bench run …` (the suite), `scale`, `prewarm`
and `python -m bench report RESULTS.json` (re-render). Nothing writes BENCHMARKS.md unless
`--markdown` names it."""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import shlex
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench import chaos, farm, fetch, prewarm, report, scale, series
from bench.procs import SetupError
from bench.runner import Options, run
from bench.scenarios import all_scenarios

RESULTS = Path(__file__).resolve().parent / "results"
# `quick`: the headline scenarios at the targets' concurrency, short rows, a small series.
QUICK = Options(
    scenarios=("cold_thumbnails", "cold_full", "hot_zipf"),
    concurrencies=(32,),
    duration=3.0,
    warmup=0.5,
    slices=40,
    open_loop=False,
    ceiling_seconds=0.5,
)


def _ints(text: str) -> tuple[int, ...]:
    return tuple(int(x) for x in text.split(",") if x)


def build_parser() -> argparse.ArgumentParser:
    names = [s.name for s in all_scenarios()]
    defaults = Options(scenarios=tuple(names))
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    q = commands.add_parser(
        "quick",
        help="about a minute: cold thumbnails, cold full size and render-cache hits at 32 "
        "connections, wadofarm against Orthanc's /wado; results go to a new folder it names",
    )
    q.add_argument("--out", type=Path, help="results folder (default: a new one in the temp dir)")
    q.add_argument("--workers", type=int, default=QUICK.workers, help="wadofarm workers")
    q.add_argument("--duration", type=float, default=QUICK.duration, help="seconds per row")
    q.add_argument("--cache", type=Path, default=QUICK.cache, help="generated series")
    r = commands.add_parser(
        "run", help="the whole suite against wadofarm and Orthanc's /wado (about eight minutes)"
    )
    r.add_argument(
        "--scenarios", default=",".join(names), help=f"comma list of: {', '.join(names)}"
    )
    r.add_argument("--concurrency", type=_ints, default=defaults.concurrencies, metavar="N,N")
    r.add_argument("--duration", type=float, default=defaults.duration, help="seconds per row")
    r.add_argument("--warmup", type=float, default=defaults.warmup, help="seconds per scenario")
    r.add_argument("--slices", type=int, default=defaults.slices, help="CT slices per series")
    r.add_argument("--workers", type=int, default=defaults.workers, help="wadofarm workers")
    r.add_argument("--no-open-loop", action="store_true", help="closed loop only")
    r.add_argument(
        "--rate-scale", type=float, default=1.0, help="multiply every open-loop rate by this"
    )
    r.add_argument("--max-requests", type=int, default=defaults.max_requests, help="per row")
    r.add_argument("--ceiling-seconds", type=float, default=defaults.ceiling_seconds)
    r.add_argument("--cache", type=Path, default=defaults.cache, help="generated series")
    r.add_argument("--out", type=Path, default=RESULTS, help="JSON, Markdown and PNG go here")
    r.add_argument("--markdown", type=Path, help="also rewrite this BENCHMARKS.md (and its PNG)")
    r.add_argument(
        "--wadofarm-arg",
        action="append",
        default=[],
        metavar="ARG",
        help="an extra flag for `wadofarm serve` (repeatable), e.g. --wadofarm-arg=--cache-mb=64",
    )
    sc = commands.add_parser(
        "scale",
        help="1..N wadofarm nodes behind nginx (+ Redis): consistent hashing vs round robin",
    )
    sd = scale.ScaleOptions()
    sc.add_argument("--nodes", type=_ints, default=sd.nodes, metavar="N,N")
    sc.add_argument("--balance", default=",".join(sd.balances), help="consistent,round_robin")
    sc.add_argument("--l2", default="redis,none", help="with the Redis cache, without, or both")
    sc.add_argument("--concurrency", type=int, default=sd.concurrency)
    sc.add_argument("--warmup", type=float, default=sd.warmup, help="seconds per row")
    sc.add_argument("--duration", type=float, default=sd.duration, help="seconds per row")
    sc.add_argument("--slices", type=int, default=sd.slices)
    sc.add_argument("--kind", default=sd.kind, choices=series.KINDS)
    sc.add_argument("--workers", type=int, default=sd.workers, help="render workers per node")
    sc.add_argument("--cache-mb", type=float, default=sd.cache_mb, help="L1 per node")
    sc.add_argument("--redis-mb", type=int, default=sd.redis_mb)
    sc.add_argument("--max-requests", type=int, default=sd.max_requests, help="per row")
    sc.add_argument("--repeat", type=int, default=sd.repeat, help="rounds; medians are shown")
    sc.add_argument("--cache", type=Path, default=sd.cache, help="generated series")
    sc.add_argument("--out", type=Path, default=RESULTS, help="scale-latest.json goes here")
    sc.add_argument("--markdown", type=Path, help="also rewrite this file's scale section")
    pw = commands.add_parser(
        "prewarm", help="first-view latency of a new series with and without --prewarm"
    )
    pd = prewarm.PrewarmOptions()
    pw.add_argument("--slices", type=int, default=pd.slices)
    pw.add_argument("--workers", type=int, default=pd.workers, help="wadofarm workers")
    pw.add_argument("--repeat", type=int, default=pd.repeat, help="runs per mode")
    pw.add_argument("--cache", type=Path, default=pd.cache, help="generated series")
    pw.add_argument("--out", type=Path, default=RESULTS, help="prewarm-latest.json goes here")
    pw.add_argument("--markdown", type=Path, help="also rewrite this file's prewarm section")
    ch = commands.add_parser(
        "chaos",
        help="viewers at work while workers, a router, Orthanc and Redis are killed and the "
        "server reloaded: failures by fault, wrong images (issue 23)",
    )
    cd = chaos.ChaosOptions()
    ch.add_argument("--duration", type=float, default=cd.duration, help="seconds of load")
    ch.add_argument("--kill-every", type=float, default=cd.kill_every, help="seconds")
    ch.add_argument("--connections", type=int, default=cd.connections, help="viewers")
    ch.add_argument("--slices", type=int, default=cd.slices)
    ch.add_argument("--workers", type=int, default=cd.workers, help="wadofarm workers")
    ch.add_argument("--routers", type=int, default=cd.routers)
    ch.add_argument("--seed", type=int, default=cd.seed)
    ch.add_argument("--cache", type=Path, default=cd.cache, help="generated series")
    ch.add_argument("--out", type=Path, default=RESULTS, help="chaos-latest.json goes here")
    ch.add_argument("--markdown", type=Path, help="also rewrite this file's chaos section")
    f = commands.add_parser(
        "fetch", help="a worker's file fetch: CPU per GET, our HTTP client and the libraries'"
    )
    f.add_argument("--rounds", type=int, default=20)
    f.add_argument("--fetches", type=int, default=200, help="per client per round")
    f.add_argument("--cache", type=Path, default=defaults.cache, help="generated series")
    p = commands.add_parser("report", help="re-render the Markdown and plot of a JSON result")
    p.add_argument("results", type=Path)
    p.add_argument("--markdown", type=Path)
    return parser


def write(results: dict[str, Any], out: Path, markdown: Path | None, command: str) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    raw = json.dumps(results, indent=1)
    (out / f"results-{stamp}.json").write_text(raw)
    (out / "latest.json").write_text(raw)
    has_plot = report.plot(results, out / "latest.png")
    (out / "latest.md").write_text(
        report.markdown(results, command, "latest.png" if has_plot else None)
    )
    if markdown is not None:
        png = markdown.with_suffix(".png")
        has_plot = report.plot(results, png)
        text = report.markdown(results, command, png.name if has_plot else None)
        report.write_benchmarks(markdown, text)
    return out / "latest.md"


def main(argv: Sequence[str] | None = None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    command = "python -m bench " + shlex.join(sys.argv[1:] if argv is None else list(argv))
    if args.command == "report":
        results = json.loads(args.results.read_text())
        print(write(results, args.results.parent, args.markdown, command))
        return
    if args.command == "scale":
        run_scale(args, command)
        return
    if args.command == "prewarm":
        run_prewarm(args, command)
        return
    if args.command == "chaos":
        run_chaos(args, command)
        return
    if args.command == "fetch":
        try:
            print(fetch.run(args.rounds, args.fetches, args.cache))
        except SetupError as exc:
            sys.exit(f"bench: {exc}")
        return
    if args.command == "quick":
        run_quick(args, command)
        return
    chosen = tuple(s for s in args.scenarios.split(",") if s)
    unknown = set(chosen) - {s.name for s in all_scenarios()}
    if unknown:
        sys.exit(f"unknown scenario(s): {', '.join(sorted(unknown))}")
    options = Options(
        scenarios=chosen,
        concurrencies=args.concurrency,
        duration=args.duration,
        warmup=args.warmup,
        slices=args.slices,
        workers=args.workers,
        open_loop=not args.no_open_loop,
        rate_scale=args.rate_scale,
        max_requests=args.max_requests,
        ceiling_seconds=args.ceiling_seconds,
        cache=args.cache,
        wadofarm_args=tuple(args.wadofarm_arg),
    )
    try:
        results = run(options).as_json()
    except SetupError as exc:
        sys.exit(f"bench: {exc}")
    print(write(results, args.out, args.markdown, command))


def run_scale(args: argparse.Namespace, command: str) -> None:
    balances = tuple(b for b in args.balance.split(",") if b)
    l2 = {"redis": True, "none": False}
    if set(balances) - set(farm.BALANCES) or set(args.l2.split(",")) - set(l2):
        sys.exit("--balance takes consistent,round_robin and --l2 takes redis,none")
    options = scale.ScaleOptions(
        nodes=args.nodes,
        balances=balances,
        l2=tuple(l2[x] for x in args.l2.split(",")),
        concurrency=args.concurrency,
        warmup=args.warmup,
        duration=args.duration,
        slices=args.slices,
        kind=args.kind,
        workers=args.workers,
        cache_mb=args.cache_mb,
        redis_mb=args.redis_mb,
        max_requests=args.max_requests,
        repeat=args.repeat,
        cache=args.cache,
    )
    try:
        results = scale.run(options)
    except SetupError as exc:
        sys.exit(f"bench: {exc}")
    except KeyboardInterrupt:
        sys.exit("bench: interrupted; every process it started is stopped")
    args.out.mkdir(parents=True, exist_ok=True)
    raw = json.dumps(results, indent=1)
    (args.out / f"scale-{time.strftime('%Y%m%d-%H%M%S')}.json").write_text(raw)
    (args.out / "scale-latest.json").write_text(raw)
    text = scale.markdown(results, command)
    (args.out / "scale-latest.md").write_text(text)
    if args.markdown is not None:
        scale.write_section(args.markdown, text)
    print(text)


def run_prewarm(args: argparse.Namespace, command: str) -> None:
    options = prewarm.PrewarmOptions(
        slices=args.slices, workers=args.workers, repeat=args.repeat, cache=args.cache
    )
    try:
        results = prewarm.run(options)
    except SetupError as exc:
        sys.exit(f"bench: {exc}")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "prewarm-latest.json").write_text(json.dumps(results, indent=1))
    text = prewarm.markdown(results, command)
    (args.out / "prewarm-latest.md").write_text(text)
    if args.markdown is not None:
        prewarm.write_section(args.markdown, text)
    print(text)


def run_quick(args: argparse.Namespace, command: str) -> None:
    """The quick run: its own new folder (in the temp dir unless --out names one), never
    BENCHMARKS.md; the last line names the folder."""
    out = args.out or Path(tempfile.mkdtemp(prefix=f"wadofarm-bench-{time.strftime('%H%M%S')}-"))
    options = dataclasses.replace(
        QUICK, workers=args.workers, cache=args.cache, duration=args.duration
    )
    try:
        results = run(options).as_json()
    except SetupError as exc:
        sys.exit(f"bench: {exc}")
    report = write(results, out, None, command)
    print(report.read_text())
    print(f"results (JSON, Markdown, PNG) are in {out}/: {report.name}, latest.json, latest.png")


def run_chaos(args: argparse.Namespace, command: str) -> None:
    options = chaos.ChaosOptions(
        duration=args.duration,
        kill_every=args.kill_every,
        connections=args.connections,
        slices=args.slices,
        workers=args.workers,
        routers=args.routers,
        seed=args.seed,
        cache=args.cache,
    )
    try:
        results = chaos.run(options)
    except SetupError as exc:
        sys.exit(f"bench: {exc}")
    except KeyboardInterrupt:
        sys.exit("bench: interrupted; every process it started is stopped")
    chaos.save(results, args.out)
    text = chaos.markdown(results, command)
    (args.out / "chaos-latest.md").write_text(text)
    if args.markdown is not None:
        chaos.write_section(args.markdown, text)
    print(text)
