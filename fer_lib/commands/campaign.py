"""`campaign plan`: every run of the full study, ordered by verdicts gained per GPU-minute, and what fits."""

from __future__ import annotations

import argparse

from fer_lib.study import campaign


def configure(parser: argparse.ArgumentParser) -> None:
    """Add `campaign plan [--budget-minutes M] [--only ...] [--data-dir] [--tflops] [--csv]`."""
    sub = parser.add_subparsers(dest="campaign_command", required=True, metavar="ACTION")
    planner = sub.add_parser("plan", help="print the ordered plan with estimates; complete runs are skipped")
    planner.add_argument("--budget-minutes", type=float, default=None, metavar="M",
                         help="mark what fits in M minutes of device time (cumulative estimate)")
    planner.add_argument("--only", nargs="+", default=None, metavar="P",
                         help="papers (P1..P4) or experiment names to plan")
    planner.add_argument("--data-dir", default=None, help="dataset directory (counts each run's training images)")
    planner.add_argument("--tflops", type=float, default=None,
                         help="assumed sustained training TFLOP/s of the device (default: fer_lib.study.campaign)")
    planner.add_argument("--csv", default=None, metavar="PATH", help="also write the whole plan as CSV")
    planner.set_defaults(handler=_plan)


def _plan(args) -> int:
    import pandas as pd

    table = campaign.plan(args.budget_minutes, args.only, args.data_dir,
                          tflops=args.tflops or campaign.ASSUMED_TFLOPS)
    if args.csv:
        table.to_csv(args.csv, index=False)
    shown = ["paper", "experiment", "seed", "fold", "epochs", "train images", "img/s", "est. minutes",
             "claims per run", "cumulative minutes", "status"] + (["fits budget"] if args.budget_minutes else [])
    with pd.option_context("display.width", 200, "display.max_rows", 500, "display.max_columns", 20):
        print(table[shown].to_string(index=False))
    todo = table[table["status"] == "to run"]
    print(f"\n{len(table)} runs: {len(todo)} to run ({todo['est. minutes'].sum():.0f} estimated minutes), "
          f"{(table['status'] == 'complete (skipped)').sum()} complete, "
          f"{(table['status'] == 'dataset unavailable').sum()} without their dataset here.")
    if args.budget_minutes:
        fits = table[table.get("fits budget", False) == True]  # noqa: E712
        print(f"Fits in {args.budget_minutes:g} minutes: {len(fits)} runs "
              f"({fits['est. minutes'].sum():.1f} estimated minutes, {fits['claims per run'].sum():.2f} claims' worth).")
    print(f"Estimates: {table['estimate source'].iloc[0] if len(table) else '-'}; replaced by measured img/s "
          f"where a bench or preflight measured the model.")
    return 0
