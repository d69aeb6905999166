"""``digex calibrate``: fit uncertain parameters to published figures (sim/experiments/calibration.py)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from sim.cli.progress import progress_bar, showing
from sim.cli.run import add_executor_arguments, check_executor

EXAMPLES = """\
  # the Danish posterior on two cores (writes scenarios/calibrated.yaml, scenarios/calibrated_posterior.csv
  # and the fit report)
  digex calibrate calibration/denmark.yaml --jobs 2 --out docs/calibration
  # only the fit report (posterior predictive check) of the current posterior
  digex calibrate calibration/denmark.yaml --report-only --out docs/calibration
  # validation: fit to the figures up to 2019 only, predict the later ones (writes only the report folder)
  digex calibrate calibration/denmark.yaml --fit-until 2019-12-31 --out docs/validation/temporal
"""
"""Command lines that end ``digex calibrate --help``."""


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``calibrate`` subcommand."""
    p = subparsers.add_parser(
        "calibrate",
        help="fit uncertain parameters to published figures; write the fitted YAML and a fit report",
        description="Fit the parameters listed in CONFIG to its published targets and write the fit report to "
                    "DIR. With method abc (ABC rejection): a posterior sample of parameter sets, written beside "
                    "the YAML the baseline extends (CONFIG's 'output'), and a report with marginals, pair plots, "
                    "the effective sample size, a posterior predictive check of every target, the check that the "
                    "calibrated point is a posterior mode, and the prior bank (every prior draw with its "
                    "simulated figures). With method nelder-mead: the point of smallest distance to the figures "
                    "(the MAP under uniform priors) by block-wise Nelder-Mead on replication means under common "
                    "random numbers, written to CONFIG's 'output'. Held-out targets (--hold-out, --fit-until) "
                    "are predicted, not fitted, and then only DIR is written. "
                    "See docs/calibration.md and docs/validation.md.",
    )
    p.add_argument("config", metavar="CONFIG.yaml", help="calibration file, e.g. calibration/denmark.yaml")
    p.add_argument("--out", metavar="DIR", default=None,
                   help="report folder (default: results/calibration/<CONFIG stem>); replaced as a whole, and only "
                   "if it is empty or an earlier digex calibrate wrote it; checked before anything runs")
    p.add_argument("--report-only", action="store_true",
                   help="do not fit: report the fit of the current calibrated YAML (the base scenario as it is)")
    p.add_argument("--method", choices=("abc", "nelder-mead"), default=None,
                   help="fitting method (default: the file's 'method', else nelder-mead)")
    p.add_argument("--hold-out", metavar="TARGET[,TARGET...]", default="",
                   help="abc: targets to predict rather than fit (by name; validation)")
    p.add_argument("--fit-until", metavar="DATE", default=None,
                   help="abc: fit only the targets observed up to DATE (e.g. 2019-12-31) and predict the later ones")
    p.add_argument("--bank", metavar="FILE", default=None,
                   help="abc: reuse the prior draws and their runs of an earlier calibration (its prior_bank.csv) "
                   "instead of simulating them, e.g. to hold out targets (docs/validation.md); with --abc "
                   "simulations=N above the bank's rows, only the draws after them are simulated and the grown "
                   "bank is written to DIR")
    p.add_argument("--abc", metavar="KEY=VALUE", action="append", default=[],
                   help="abc: replace an entry of CONFIG's abc block for this run, e.g. --abc particles=100 "
                   "(repeatable)")
    add_executor_arguments(p)
    p.add_argument("--quiet", action="store_true", help="no progress bar and no summary")
    p.set_defaults(func=run)


MAP_NOTE = ("Each fitted value is the point of smallest distance to the figures that Nelder-Mead found: with "
            "uniform priors, the MAP (maximum a posteriori) estimate; with method abc, the ABC report checks that "
            "it is a posterior mode.")
"""The header line of a Nelder-Mead fit's YAML: which point estimate it holds (issue 15)."""


def check_fitted_output(path: Path, config: str) -> None:
    """Refuse, before fitting, a fitted-YAML path ('output' of CONFIG) that is not a file in a writable folder."""
    from sim.atomic import shown
    from sim.errors import UserError

    folder = path.parent
    if (path.exists() or path.is_symlink()) and not path.is_file():
        raise UserError(f"{shown(config)}: output {shown(path)} exists and is not a file; name a YAML file")
    if not folder.is_dir() or not os.access(folder, os.W_OK | os.X_OK):
        raise UserError(f"{shown(config)}: cannot write output {shown(path)}: {shown(folder)} is not a writable "
                        "folder")


def run(args: argparse.Namespace) -> int:
    """Check CONFIG, fit (unless --report-only), write the report folder and the fitted YAML atomically.

    The replications of each evaluation and of the report run on one
    executor (--jobs, --executor, --scheduler), opened once for the whole
    calibration.
    """
    import pandas as pd

    from sim.atomic import check_replaceable, default_output, output_dir, write_text
    from sim.experiments import calibration as cal
    from sim.experiments.executor import Executor
    from sim.outputs.calibration_figures import write_calibration_figures
    from sim.outputs.files import policy_markers
    from sim.scenario.loader import load_scenario

    check_executor(args)
    spec = cal.abc_overrides(cal.load_spec(args.config), args.abc)
    out = args.out if args.out is not None else str(default_output("calibration", Path(args.config).stem))
    check_replaceable(out, kind="calibrate")
    if (args.method or spec.method) == "abc":
        from sim.cli.calibrate_abc import run_abc

        return run_abc(args, spec, out)
    if args.hold_out or args.fit_until or args.bank:
        from sim.errors import UserError

        raise UserError("--hold-out, --fit-until and --bank need --method abc (a posterior predicts held-out "
                        "figures)")
    if not args.report_only:
        check_fitted_output(Path(spec.output), args.config)
    base = load_scenario(spec.base) if args.report_only else spec.base_config()
    fit_runs = 0 if args.report_only else spec.sweeps * sum(s.max_evaluations * (s.replications or spec.replications)
                                                            for s in spec.stages)
    show = showing(args.quiet)
    with Executor(args.executor, args.jobs, args.scheduler) as executor, \
            progress_bar(fit_runs + spec.report_replications, "calibrate", show, unit="run", leave=False) as bar:
        best: dict[str, float] = {}

        def on_eval(stage: str, value: float) -> None:
            best[stage] = min(best.get(stage, float("inf")), value)
            bar.set_postfix_str(f"{stage}: best loss {best[stage]:.3g}")

        trace: list[dict] = []
        if args.report_only:
            values = {name: float(p.read(base)) for name, p in spec.parameters.items()}
        else:
            result = cal.fit(spec, base, on_run=lambda: bar.update(1), on_eval=on_eval, executor=executor)
            values, trace = result.values, result.trace
            bar.total = bar.n + spec.report_replications  # Nelder-Mead may stop before its budget
            bar.refresh()
        bar.set_postfix_str("report")
        config, seeds = cal.report_config(spec, base, values)
        targets = list(spec.targets.values())
        stats, observations, series = cal.run_targets(config, targets, seeds, full=True,
                                                      on_run=lambda: bar.update(1), executor=executor)

    table = cal.fit_table(targets, stats)
    command = f"digex calibrate {Path(args.config).as_posix()}" + (" --method nelder-mead" if spec.method == "abc"
                                                                      else "")
    yaml_text = cal.fitted_yaml(spec, values, command, what="MAP", note=MAP_NOTE)
    with output_dir(out, kind="calibrate") as folder:
        table.to_csv(folder / "fit.csv", index=False)
        header = (f"Fit of `{config.name}` ({config.population.size:,} citizens, {len(seeds)} replications, "
                  f"seeds {seeds[0]}-{seeds[-1]}), produced by `{command}"
                  f"{' --report-only' if args.report_only else ''}`.\n\n")
        (folder / "fit.md").write_text(header + cal.markdown_table(table), encoding="utf-8")
        if not args.report_only:
            pd.DataFrame(trace).to_csv(folder / "trace.csv", index=False)
            (folder / "calibrated.yaml").write_text(yaml_text, encoding="utf-8")
        write_calibration_figures(folder, targets, observations, stats, series, policy_markers([config]))
    if not args.report_only:
        write_text(spec.output, yaml_text)
    if not args.quiet:
        print(cal.markdown_table(table), end="")
        required = table[table["required"]]
        print(f"{int(required['within'].sum())} of {len(required)} required targets and "
              f"{int(table['within'].sum()) - int(required['within'].sum())} of {len(table) - len(required)} "
              f"diagnostics within tolerance; report in {out}/"
              + ("" if args.report_only else f"; fitted values in {spec.output}"))
    return 0
