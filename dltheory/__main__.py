"""Command line: ``python -m dltheory figures list``, ``... figures build ID`` and
``... figures data ID``.

The Colab notebooks are the book's business, not the package's: ``python book/_ext/colab.py``.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m dltheory", description="Tools of the dltheory book."
    )
    sub = p.add_subparsers(dest="group", required=True)
    fig = sub.add_parser("figures", help="list or rebuild the book's figures")
    fsub = fig.add_subparsers(dest="action", required=True)
    fsub.add_parser("list", help="print the id and chapter of every figure")
    b = fsub.add_parser("build", help="rebuild one figure (or all) outside the book")
    b.add_argument("id", help="figure id such as dynamics/euler-convergence, or 'all'")
    b.add_argument("--out", default="figures-out", help="output folder (default: figures-out)")
    b.add_argument("--format", default="png", choices=["png", "pdf", "svg"], help="file format")
    d = fsub.add_parser(
        "data", help="write the arrays one figure (or all) plots: CSV per panel + JSON"
    )
    d.add_argument("id", help="figure id such as dynamics/euler-convergence, or 'all'")
    d.add_argument("--out", default="figures-data", help="output folder (default: figures-data)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    from dltheory import figures

    if args.action == "list":
        for spec in figures.specs():
            print(f"{spec.id}\t{spec.chapter}")
        return 0
    targets = figures.ids() if args.id == "all" else [args.id]
    if not args.out.strip():
        print("error: --out must name a folder; got an empty string", file=sys.stderr)
        return 2
    try:
        figures.get(targets[0])
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        if not os.access(out, os.W_OK):
            raise PermissionError(f"cannot write to {out}")
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(
            f"error: --out {args.out!r} is not a writable folder ({exc.strerror or exc})",
            file=sys.stderr,
        )
        return 2
    for fid in targets:
        if args.action == "data":
            for path in figures.write_data(fid, out):
                print(path)
        else:
            print(figures.save(fid, out, args.format))
    return 0


if __name__ == "__main__":
    sys.exit(main())
