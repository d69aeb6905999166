"""``digex app``: serve the interactive dashboard (``sim/app.py``) in the browser."""

from __future__ import annotations

import argparse
import os
import socket
import sys

from sim.errors import UserError

DEFAULT_PORT = 8765
"""Solara's usual port."""

EXAMPLES = """\
  digex app                                      # the Danish baseline at http://localhost:8765/
  digex app scenarios/nordic_hybrid.yaml --port 8800 --size 10000 --seed 2
  digex app --results results/optout             # open on the figures and tables of a results folder
"""
"""Command lines that end ``digex app --help``."""


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``app`` subcommand."""
    p = subparsers.add_parser(
        "app",
        help="serve the interactive dashboard (levers, live plots, figures vs baseline, results folders)",
        description="Serve the dashboard of a scenario at http://HOST:PORT: levers, the simulated date, live "
                    "plots and figures of a Mesa model run beside the baseline (the scenario as loaded, run once "
                    "at the dashboard's size and seed), and a tab that browses the figures and tables of a results "
                    "folder. Stop with Ctrl-C.",
    )
    p.add_argument("scenario", nargs="?", metavar="SCENARIO",
                   help="scenario YAML file (default: scenarios/denmark_baseline.yaml)")
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port to listen on (default {DEFAULT_PORT})")
    p.add_argument("--host", default="localhost", help="address to listen on (default localhost)")
    p.add_argument("--size", type=int, default=None,
                   help="simulated citizens (default 5,000; the scenario's size is for batch runs)")
    p.add_argument("--seed", type=int, default=None, help="random seed (default: the scenario's run.seed)")
    p.add_argument("--results", metavar="DIR", default=None,
                   help="open the page on this results folder (of digex run or compare, or a folder holding some)")
    p.set_defaults(func=run)


def check_port(host: str, port: int) -> None:
    """Raise UserError unless ``port`` is valid and free on ``host``."""
    if not 1 <= port <= 65535:
        raise UserError(f"--port: must be between 1 and 65535, got {port}")
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise UserError(f"--host: cannot listen on '{host}': {exc.strerror or exc}") from None
    family, _, _, _, address = infos[0]
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(address)
        except OSError as exc:
            raise UserError(f"--port: cannot listen on {host}:{port}: {exc.strerror or exc}") from None


def run(args: argparse.Namespace) -> int:
    """Validate the scenario and options, run the baseline once, then serve until interrupted."""
    from pydantic import ValidationError

    from sim.app import (
        DEFAULT_SCENARIO_PATH,
        RESULTS_ENV,
        SCENARIO_ENV,
        SEED_ENV,
        SIZE_ENV,
        find_results,
        served_model_class,
    )
    from sim.scenario.loader import load_scenario

    if args.seed is not None and args.seed < 0:
        raise UserError(f"--seed: must be non-negative, got {args.seed}")
    if args.size is not None and args.size < 50:
        raise UserError(f"--size: must be at least 50 citizens, got {args.size}")
    path = os.path.abspath(args.scenario) if args.scenario else ""
    if path:
        load_scenario(path)  # a bad file stops here with one clear message
    if args.results is not None:
        try:
            find_results(args.results)
        except UserError as exc:
            raise UserError(f"--results: {exc}") from None
    check_port(args.host, args.port)
    os.environ[SCENARIO_ENV] = path
    os.environ[SIZE_ENV] = "" if args.size is None else str(args.size)
    os.environ[SEED_ENV] = "" if args.seed is None else str(args.seed)
    os.environ[RESULTS_ENV] = os.path.abspath(args.results) if args.results else ""
    try:
        cls = served_model_class()
    except ValidationError as exc:
        raise UserError(f"--size/--seed: {exc.errors()[0]['msg']}") from None
    name = args.scenario or (DEFAULT_SCENARIO_PATH if DEFAULT_SCENARIO_PATH.exists() else "built-in defaults")
    print(f"digex app: running the baseline ({name}, {cls.base.population.size:,} citizens, "
          f"seed {cls.base.run.seed}) once ...", file=sys.stderr, flush=True)
    cls.baseline()
    print(f"digex app: dashboard at http://{args.host}:{args.port}/ (Ctrl-C stops it)", file=sys.stderr, flush=True)
    return serve(args.host, args.port)


def serve(host: str, port: int) -> int:
    """Run the Solara server for ``sim.app`` in this process until it stops."""
    import warnings

    from solara.__main__ import run as solara_run

    # Solara warns about cross-site (iframe) cookies when the page is opened by IP address over http;
    # the dashboard is not embedded, so the warning only confuses.
    warnings.filterwarnings("ignore", message="Cookies with samesite=none require https")

    solara_run.main(
        args=["sim.app", "--host", host, "--port", str(port), "--production", "--no-open",
              "--no-check-version", "--log-level", "warning", "--no-access-log"],
        standalone_mode=False,
    )
    return 0
