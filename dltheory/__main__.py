"""Command line: ``python -m dltheory figures list`` and ``python -m dltheory figures build ID``."""

from __future__ import annotations

import argparse
import sys


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m dltheory", description="Tools of the dltheory book.")
    sub = p.add_subparsers(dest="group", required=True)
    fig = sub.add_parser("figures", help="list or rebuild the book's figures")
    fsub = fig.add_subparsers(dest="action", required=True)
    fsub.add_parser("list", help="print id, chapter and caption of every figure")
    b = fsub.add_parser("build", help="rebuild one figure (or all) outside the book")
    b.add_argument("id", help="figure id such as dynamics/euler-convergence, or 'all'")
    b.add_argument("--out", default="figures-out", help="output folder (default: figures-out)")
    b.add_argument("--format", default="png", choices=["png", "pdf", "svg"], help="file format")
    nb = sub.add_parser("notebooks", help="generate or check the Colab notebooks from the MyST chapters")
    nb.add_argument("action", choices=["sync", "check"])
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.group == "figures":
        from dltheory import figures

        if args.action == "list":
            for spec in figures.specs():
                print(f"{spec.id}\t{spec.chapter}\t{spec.caption}")
            return 0
        targets = figures.ids() if args.id == "all" else [args.id]
        for fid in targets:
            try:
                path = figures.save(fid, args.out, args.format)
            except ValueError as exc:
                print(f"error: {exc}", file=sys.stderr)
                return 2
            print(path)
        return 0
    from dltheory import book

    if args.action == "sync":
        for path in book.sync_notebooks():
            print(f"wrote {path}")
        return 0
    stale = book.stale_notebooks()
    for msg in stale:
        print(msg, file=sys.stderr)
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
