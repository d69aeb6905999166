"""``digex calibrate`` with ``method: abc``: an ABC rejection posterior and its report (sim/experiments/abc.py).

Simulates the prior bank (or reads it with --bank), accepts the closest
runs (or, with --report-only, reads the shipped draws), runs the posterior
predictive check (the first ``predictive_draws`` draws at the report size,
draw r with seed r) and, without held-out targets, the mode check of the
calibrated point against the posterior median, and writes the report folder
as one set, the bank included; without held-out targets it also writes the
posterior draws beside CONFIG's ``output`` (``posterior_path``). The
``output`` itself, the calibrated point, is the MAP that ``--method
nelder-mead`` writes (docs/calibration.md); this command only checks it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import re
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from sim.cli.progress import progress_bar, showing

if TYPE_CHECKING:
    from collections.abc import Sequence

    from sim.experiments.abc import Posterior
    from sim.experiments.calibration import Spec, Target

ACCEPTANCE_LINE = re.compile(r"^acceptance: (.*)$")
"""The acceptance step in the posterior file's comments ('# acceptance: epsilon=4.2 simulations=1200 ...')."""

COVERS = ("Intervals are 95% posterior predictive intervals over posterior draws, each run with its own seed: "
          "they cover parameter uncertainty and simulation noise, not the model's structural error.")
"""What the report's intervals cover (issue 15: every table says it)."""


def fit_until(text: str | None) -> dt.date | None:
    """The --fit-until date (YYYY-MM-DD), or None."""
    from sim.errors import UserError

    if text is None:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise UserError(f"--fit-until: should be a date like 2019-12-31 (got {text!r})") from None


def posterior_path(spec: Spec) -> Path:
    """The posterior file beside the YAML the baseline extends: ``calibrated.yaml`` -> ``calibrated_posterior.csv``."""
    return spec.output.with_name(f"{spec.output.stem}_posterior.csv")


def provenance(spec: Spec, posterior: Posterior, command: str) -> list[str]:
    """The comment lines of a posterior file: what it is, how it was made, and its acceptance step."""
    s = spec.abc
    r = posterior.acceptance.iloc[0]
    return [f"Written by `{command}`; do not edit by hand.",
            f"{len(posterior.draws)} equally weighted draws of an ABC rejection posterior: the {s.particles} of "
            f"{s.simulations} prior draws ({s.population or spec.population} citizens, one run each) closest to "
            "the figures; replication r of --posterior K uses draw r. Method: docs/calibration.md.",
            f"fitted targets: {', '.join(posterior.fitted)}",
            "acceptance: " + " ".join(f"{k}={r[k]:.4g}" for k in ("epsilon", "simulations", "particles",
                                                                    "acceptance_rate", "ess"))]


def acceptance_from_file(path: Path) -> pd.DataFrame:
    """The acceptance step kept in a posterior file's comments (empty if it has none)."""
    for line in path.read_text(encoding="utf-8").splitlines():
        m = ACCEPTANCE_LINE.match(line.removeprefix("# "))
        if m:
            row = {k: float(v) for k, v in (kv.split("=") for kv in m.group(1).split())}
            return pd.DataFrame([row])
    return pd.DataFrame()


def run_abc(args: argparse.Namespace, spec: Spec, out: str) -> int:
    """Fit or read the posterior, run the predictive check, write the report folder (and, if nothing is held
    out and this is a fit, the posterior median and the posterior file)."""
    from sim.atomic import output_dir, write_text
    from sim.cli.calibrate import check_fitted_output
    from sim.experiments import abc
    from sim.experiments import calibration as cal
    from sim.experiments.executor import Executor

    hold_out = [n.strip() for n in args.hold_out.split(",") if n.strip()]
    targets = abc.fitted_targets(spec, hold_out, fit_until(args.fit_until))
    held = bool(hold_out or args.fit_until)
    if args.report_only and held:
        from sim.errors import UserError

        raise UserError("--report-only reads the shipped posterior, which saw every target: drop --hold-out and "
                        "--fit-until")
    writes_posterior = not (args.report_only or held)
    if writes_posterior:
        check_fitted_output(posterior_path(spec), args.config)
    base = spec.base_config()
    settings = spec.abc
    command = " ".join(["digex calibrate", Path(args.config).as_posix(),
                        *([f"--hold-out {','.join(hold_out)}"] if hold_out else []),
                        *([f"--fit-until {args.fit_until}"] if args.fit_until else []),
                        *([f"--bank {Path(args.bank).as_posix()}"] if args.bank else []),
                        *(f"--abc {item}" for item in args.abc)])
    show = showing(args.quiet)
    kept = Path(out) / "prior_bank.csv"
    shipped_bank = kept.read_bytes() if args.report_only and kept.is_file() else None  # the report folder is
    # replaced as a whole: --report-only keeps the bank that the fit wrote there
    bank = abc.read_bank(kept, spec) if shipped_bank is not None else None
    given = None
    if args.bank and not args.report_only:
        given = abc.read_bank(args.bank, spec)
        abc.check_bank(given, spec, args.bank)
    fit_runs = 0 if args.report_only else settings.simulations - (0 if given is None else min(len(given),
                                                                                            settings.simulations))
    mode_runs = 0 if held else 2 * settings.mode_runs
    with Executor(args.executor, args.jobs, args.scheduler) as executor, \
            progress_bar(fit_runs + settings.predictive_draws + mode_runs, "calibrate (abc)", show, unit="run",
                         leave=False) as bar:
        if args.report_only:
            posterior = read_shipped(spec)
        else:
            bank = given
            if fit_runs:
                bar.set_postfix_str("prior draws")
                bank = abc.prior_bank(spec, base, settings, executor, on_run=lambda: bar.update(1), done=given)
            posterior = abc.accept(spec, bank, targets, settings)
        bar.set_postfix_str("posterior predictive check")
        configs, seeds = abc.predictive_configs(spec, base, posterior.draws, settings.predictive_draws)
        every = list(spec.targets.values())
        values, _, _ = cal.run_target_pairs(list(zip(configs, seeds, strict=True)), every,
                                            on_run=lambda: bar.update(1), executor=executor)
        medians = posterior.median()
        modes, levels = pd.DataFrame(), mode_levels(posterior, bank, targets)
        if mode_runs:
            bar.set_postfix_str("mode check")
            points = {"calibrated point": abc.point_values(spec, base), "posterior median": medians}
            modes = abc.mode_check(spec, base, points, targets, levels, executor, on_run=lambda: bar.update(1))
    table = abc.predictive_table(every, values, posterior.fitted)
    summary = posterior.summary()
    intervals = {r.parameter: (r.q025, r.q975) for r in summary.itertuples()}
    yaml_text = cal.fitted_yaml(spec, medians, command, what="posterior median", intervals=intervals,
                                note="Each fitted value is the median of the ABC posterior (its draws: "
                                     f"{posterior_path(spec).name}).")
    posterior_text = abc.posterior_csv(posterior.draws, provenance(spec, posterior, command))
    report = report_markdown(spec, posterior, summary, table, command, configs[0].population.size, seeds,
                             (modes, levels))
    with output_dir(out, kind="calibrate") as folder:
        from sim.outputs import posterior_figures as pf
        from sim.outputs.figures import save_figure

        (folder / "posterior.csv").write_text(posterior_text, encoding="utf-8")
        if shipped_bank is not None:
            (folder / "prior_bank.csv").write_bytes(shipped_bank)
        elif fit_runs:
            bank.to_csv(folder / "prior_bank.csv", index=False)
        posterior.acceptance.to_csv(folder / "acceptance.csv", index=False)
        summary.to_csv(folder / "posterior_summary.csv", index=False)
        table.to_csv(folder / "predictive.csv", index=False)
        if len(modes):
            modes.to_csv(folder / "mode_check.csv", index=False)
        (folder / "report.md").write_text(report, encoding="utf-8")
        if not held:
            (folder / "posterior_median.yaml").write_text(yaml_text, encoding="utf-8")
        save_figure(pf.marginals(posterior, spec), folder, "marginals")
        for stage in spec.stages:
            if len(stage.parameters) > 1:
                save_figure(pf.pairs(posterior, spec, stage.parameters, stage.name), folder, f"pairs_{stage.name}")
        save_figure(pf.predictive(table, values, every), folder, "predictive")
    if writes_posterior:
        write_text(posterior_path(spec), posterior_text)
    if not args.quiet:
        cov = abc.coverage(table)
        print(predictive_markdown(table), end="")
        near = abc.coverage(table, "consistent")
        print(f"{int(table['inside'].sum())} of {len(table)} figures inside their 95% predictive interval"
              + (f" (held out: {cov['held_out']:.0%}; within tolerance of it: {near['held_out']:.0%})" if held else "")
              + f"; report in {out}/"
              + (f"; posterior in {posterior_path(spec)}" if writes_posterior else ""))
    return 0


def mode_levels(posterior: Posterior, bank: pd.DataFrame | None, targets: Sequence[Target]) -> dict[str, float]:
    """The acceptance distances of the mode check: the posterior's (epsilon) and half of it, and the distance of
    the closest prior draw when the bank is at hand."""
    from sim.experiments.abc import distances

    levels = {}
    if len(posterior.acceptance):
        eps = float(posterior.acceptance.loc[0, "epsilon"])
        levels = {"epsilon": eps, "half epsilon": eps / 2}
    if bank is not None:
        levels["closest prior draw"] = float(distances(bank, targets).min())
    return levels


def mode_markdown(spec: Spec, modes: pd.DataFrame, levels: dict[str, float]) -> list[str]:
    """The report's section on the calibrated point: how often it and the posterior median are accepted."""
    lines = ["| parameter set | runs | distance: median (min to max) | "
             + " | ".join(f"runs within {level} ({eps:.3g})" for level, eps in levels.items()) + " |",
             "|---|---|---|" + "---|" * len(levels)]
    for r in modes.to_dict("records"):
        lines.append(f"| {r['point']} | {r['runs']} | {r['distance_median']:.2f} ({r['distance_min']:.2f} to "
                     f"{r['distance_max']:.2f}) | " + " | ".join(f"{r['within:' + lv]:.0%}" for lv in levels) + " |")
    return ["## The calibrated point, a posterior mode", "",
            f"`{spec.output.name}` holds the MAP estimate: the parameter set of smallest distance to the figures "
            "that Nelder-Mead found (`--method nelder-mead`, the same distance). The calibrated point is the set the "
            f"base scenario `{spec.base.name}` runs with. With uniform priors the ABC posterior's density at a set is "
            "proportional to the chance that one run of it is accepted, so a set accepted in every run is at the "
            "density's maximum, a mode; the smaller distances say which mode remains as the acceptance distance "
            "shrinks (the closest prior draw: the smallest distance among the bank's runs). Each set runs at the "
            f"bank's size with the same seeds ({spec.seed} to {spec.seed + int(modes['runs'].iloc[0]) - 1}):", "",
            *lines, ""]


def read_shipped(spec: Spec) -> Posterior:
    """The shipped posterior (``posterior_path``) as a Posterior whose accepted draws are the file's draws."""
    from sim.errors import UserError
    from sim.experiments.abc import Posterior, read_posterior

    path = posterior_path(spec)
    if not path.is_file():
        raise UserError(f"--report-only: no posterior file {path}; run digex calibrate {spec.file} first")
    draws = read_posterior(path, spec)
    fitted = next((line.split(": ", 1)[1].split(", ") for line in path.read_text(encoding="utf-8").splitlines()
                   if line.startswith("# fitted targets: ")), list(spec.targets))
    particles = draws[list(spec.parameters)]
    return Posterior(list(spec.parameters), particles, draws, acceptance_from_file(path), fitted)


def _share(value: float, unit_share: bool) -> str:
    return f"{100 * value:.1f}%" if unit_share else f"{value:,.0f}"


def predictive_markdown(table: pd.DataFrame) -> str:
    """The posterior predictive table as markdown (shares in per cent)."""
    lines = ["| target | date | figure | tolerance | fitted | predictive median | 95% predictive interval | "
             "figure inside | interval meets figure +/- tolerance | median within tolerance |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in table.itertuples():
        share = abs(r.value) <= 1 and r.tolerance <= 1
        sign = {"equal": "", "at_least": ">= ", "at_most": "<= "}[r.kind]
        tol = f"{100 * r.tolerance:.1f} pp" if share else f"{r.tolerance:,.0f}"
        lines.append(f"| {r.target} | {r.date} | {sign}{_share(r.value, share)} | {tol} | "
                     f"{'yes' if r.fitted else '**held out**'} | {_share(r.median, share)} | "
                     f"{_share(r.pi_low, share)} to {_share(r.pi_high, share)} | {'yes' if r.inside else 'no'} | "
                     f"{'yes' if r.consistent else 'no'} | "
                     f"{'yes' if r.within else 'no'}{'' if r.required else ' (diagnostic)'} |")
    return "\n".join(lines) + "\n"


def report_markdown(spec: Spec, posterior: Posterior, summary: pd.DataFrame, table: pd.DataFrame, command: str,
                    size: int, seeds: list[int], mode: tuple[pd.DataFrame, dict[str, float]]) -> str:
    """The report: the acceptance step, the posterior of each parameter, the predictive check and (without
    held-out figures) the mode check of the calibrated point."""
    from sim.experiments.abc import coverage

    s = spec.abc
    cov, near = coverage(table), coverage(table, "consistent")
    step = ["| prior draws simulated | accepted | acceptance rate | acceptance distance (epsilon) | "
            "effective sample size |", "|---|---|---|---|---|"]
    for r in posterior.acceptance.itertuples(index=False):
        step.append(f"| {r.simulations:,.0f} | {r.particles:.0f} | {r.acceptance_rate:.1%} | {r.epsilon:.3g} | "
                    f"{r.ess:.0f} |")
    par = ["| parameter | prior range | posterior median | 95% interval |", "|---|---|---|---|"]
    for r in summary.itertuples(index=False):
        p = spec.parameters[r.parameter]
        par.append(f"| {r.parameter} | [{p.low:g}, {p.high:g}]{' (log)' if p.log else ''} | {r.median:.4g} | "
                   f"{r.q025:.4g} to {r.q975:.4g} |")
    held = table[~table["fitted"]]
    return "\n".join([
        f"# ABC calibration of `{spec.base.name}`", "",
        f"Produced by `{command}` (ABC rejection: {s.simulations} prior draws, each run once at "
        f"{s.population or spec.population} citizens with its own seed; the {s.particles} closest to the fitted "
        f"figures are the posterior). The posterior predictive check runs the first {len(seeds)} posterior "
        f"draws at {size:,} citizens, draw r with seed {seeds[0]} + r.", "",
        COVERS, "",
        "## Acceptance", "", *step, "",
        "The accepted draws come from the prior and weigh the same, so the effective sample size is the number "
        "accepted. The acceptance distance is the square root of the calibration loss of the farthest accepted "
        "run (1 = one tolerance in all).", "",
        "## Posterior", "", *par, "",
        "## Posterior predictive check", "", predictive_markdown(table),
        f"Figures inside their 95% predictive interval: {int(table['inside'].sum())} of {len(table)}"
        + (f"; of the {len(held)} held-out figures: {int(held['inside'].sum())} ({cov['held_out']:.0%})"
           if len(held) else "") + ". "
        f"Intervals that meet the figure +/- its tolerance: {int(table['consistent'].sum())} of {len(table)}"
        + (f"; held out: {int(held['consistent'].sum())} ({near['held_out']:.0%})." if len(held) else "."), "",
        *(mode_markdown(spec, *mode) if len(mode[0]) else [])])
