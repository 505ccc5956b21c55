"""Claims: a prediction of theory, checked against a measurement, with a stated tolerance.

A chapter states each quantitative result it makes as a claim::

    from dltheory import claims
    claims.check("dynamics/euler-order", source="E (2017); forward Euler is first order",
                 expected=-1.0, measured=slope, atol=0.05,
                 description="log-log slope of the ResNet error against depth")

Three kinds of check cover the book:

* :func:`check`: ``|measured - expected| <= atol + rtol * |expected|`` (a closed form or a computation);
* :func:`check_bounds`: ``low <= measured <= high`` (an inequality such as "accuracy >= 95%");
* :func:`check_test`: a statistical test passes when its p-value is at least ``alpha``.

A failed claim raises :class:`ClaimError`, naming the claim, both values and the tolerance, so that a
chapter run by nbval or by the book build fails loudly. A NaN or infinite measurement always fails.

Every check is recorded in memory (:func:`records`). When the environment variable
``DLTHEORY_CLAIMS_DIR`` is set (the book build sets it), the records of each chapter are also written to
``$DLTHEORY_CLAIMS_DIR/<chapter>.json``; the book's Claims page is made from those files.

Each check prints one compact line where it runs (status, id, expected, measured, tolerance), at most 88
characters wide, so the reader of a chapter sees every test next to its experiment.

The module refuses checks that cannot fail: non-finite tolerances, a relative tolerance above 1, a
significance level outside [1e-6, 0.5], values that are not numbers, and a second check under an id
already recorded in this run with a different expectation or tolerance (re-running an identical check,
as when a notebook cell is run again, replaces the measurement; a failed claim cannot be re-checked
with a looser tolerance).
"""

from __future__ import annotations

import json
import math
import numbers
import os
import re
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

__all__ = [
    "Claim",
    "ClaimError",
    "ENV_VAR",
    "check",
    "check_bounds",
    "check_test",
    "records",
    "reset",
    "scoped",
    "load",
    "markdown_table",
]

#: Environment variable naming the folder where claim records are written.
ENV_VAR = "DLTHEORY_CLAIMS_DIR"

#: Bounds on what a check may be given: a tolerance larger than the value itself, or a test at a level
#: so small that no p-value can fall below it, would make a check that cannot fail.
MAX_RTOL = 1.0
ALPHA_RANGE = (1e-6, 0.5)
#: Width of the line a check prints (the book's pages show about 90 characters).
LINE_WIDTH = 88

_ID = re.compile(r"^[a-z0-9][a-z0-9-]*/[a-z0-9][a-z0-9.-]*$")


class ClaimError(AssertionError):
    """Raised when a measurement does not agree with the prediction of theory."""


@dataclass(frozen=True, repr=False)
class Claim:
    """One checked claim.

    Attributes:
        id: stable identifier ``chapter/name``.
        chapter: the part of ``id`` before the slash.
        description: what is being claimed, in words.
        source: paper, equation or figure the prediction comes from.
        expected: the prediction, as text (a value, or a range).
        measured: the measured value.
        tolerance: the tolerance or significance level, as text.
        passed: whether the measurement agrees with the prediction.
    """

    id: str
    chapter: str
    description: str
    source: str
    expected: str
    measured: float
    tolerance: str
    passed: bool

    @property
    def status(self) -> str:
        return "pass" if self.passed else "FAIL"

    def line(self) -> str:
        """The compact line a check prints: status, id, expected, measured, tolerance."""
        mark = "✓" if self.passed else "✗"
        head = f"{mark} {self.id}"
        body = f"expected {self.expected} | measured {_fmt(self.measured)} | {self.tolerance}"
        one = f"{head}: {body}"
        if len(one) <= LINE_WIDTH:
            return one
        lines, current = [head], "   "
        parts = [f"expected {self.expected}", f"measured {_fmt(self.measured)}", self.tolerance]
        for part in parts:
            for piece in textwrap.wrap(part, LINE_WIDTH - 4) or [""]:
                joined = f"{current} | {piece}" if current.strip() else f"{current} {piece}"
                if len(joined) <= LINE_WIDTH:
                    current = joined
                else:
                    lines.append(current)
                    current = f"    {piece}"
        lines.append(current)
        return "\n".join(lines)

    def __repr__(self) -> str:
        return self.line()

    def _ipython_display_(self) -> None:
        # The check already printed its line where it ran; a claim left as the last expression of a
        # notebook cell is not shown a second time.
        return None


_RECORDS: dict[str, Claim] = {}


def _validate_common(id: str, source: str, description: str) -> str:
    if not isinstance(id, str) or not _ID.match(id):
        raise ValueError(f"claim id must look like 'chapter/name' (lower case, digits, '-', '.'); got {id!r}")
    if not isinstance(source, str) or not source.strip():
        raise ValueError(f"claim {id!r}: source must name the paper, equation or figure it comes from")
    if not isinstance(description, str):
        raise TypeError(f"claim {id!r}: description must be a string")
    return id.split("/", 1)[0]


def _as_float(name: str, value, id: str) -> float:
    """A real scalar (Python, numpy, or a one-element numpy/torch array) as float, else TypeError."""
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return float(value)
    if hasattr(value, "shape") and hasattr(value, "dtype") and hasattr(value, "item"):
        numeric = getattr(value, "is_floating_point", None)
        if numeric is not None:  # torch
            ok = value.dtype != __import__("torch").bool and not value.is_complex()
        else:  # numpy: signed/unsigned integers and floats only (no bool, complex, str, bytes, object)
            ok = getattr(value.dtype, "kind", "") in "iuf"
        if ok and math.prod(value.shape) == 1:
            return float(value.reshape(()).item())
    raise TypeError(f"claim {id!r}: {name} must be a real number, got {type(value).__name__}"
                    + (f" with dtype {value.dtype}" if hasattr(value, "dtype") else ""))


def _tolerances(id: str, rtol: float, atol: float) -> None:
    if not (math.isfinite(rtol) and math.isfinite(atol)):
        raise ValueError(f"claim {id!r}: tolerances must be finite; got rtol={rtol}, atol={atol}")
    if rtol < 0 or atol < 0 or not (rtol > 0 or atol > 0):
        raise ValueError(f"claim {id!r}: need rtol >= 0 and atol >= 0 with at least one positive; "
                         f"got rtol={rtol}, atol={atol}")
    if rtol > MAX_RTOL:
        raise ValueError(f"claim {id!r}: rtol must be <= {MAX_RTOL} (a relative tolerance above 100% "
                         f"cannot fail on a sign); got {rtol}")


def _fmt(x: float) -> str:
    if math.isnan(x) or math.isinf(x):
        return str(x)
    if x == 0:
        return "0"
    if abs(x) >= 1e4 or abs(x) < 1e-3:
        return f"{x:.4g}"
    return f"{x:.6g}"


def _record(claim: Claim) -> Claim:
    old = _RECORDS.get(claim.id)
    if old is not None and (not old.passed or (old.expected, old.tolerance, old.source)
                            != (claim.expected, claim.tolerance, claim.source)):
        why = "failed" if not old.passed else f"was checked as expected {old.expected} ({old.tolerance})"
        raise ValueError(
            f"claim {claim.id!r} {why} earlier in this run; a claim is checked once (use a new id "
            f"for a different check, or claims.reset() to start over)"
        )
    _RECORDS[claim.id] = claim
    folder = os.environ.get(ENV_VAR)
    if folder:
        path = Path(folder)
        path.mkdir(parents=True, exist_ok=True)
        mine = [asdict(c) for c in _RECORDS.values() if c.chapter == claim.chapter]
        (path / f"{claim.chapter}.json").write_text(json.dumps(mine, indent=1))
    print(claim.line(), flush=True)
    if not claim.passed:
        raise ClaimError(
            f"claim {claim.id!r} failed ({claim.description or claim.source}): "
            f"expected {claim.expected}, measured {_fmt(claim.measured)}, tolerance {claim.tolerance}"
        )
    return claim


def check(
    id: str,
    *,
    source: str,
    expected: float,
    measured: float,
    rtol: float = 0.0,
    atol: float = 0.0,
    description: str = "",
) -> Claim:
    """Check that ``measured`` equals ``expected`` within ``atol + rtol * |expected|``.

    Args:
        id: ``chapter/name``, unique in the book.
        source: where the prediction comes from (paper and equation or figure).
        expected: the prediction of theory.
        measured: the value the chapter computed.
        rtol: relative tolerance, in [0, 1].
        atol: absolute tolerance (>= 0, finite). At least one of ``rtol``, ``atol`` must be positive.
        description: the claim in words.

    Returns:
        The recorded :class:`Claim`.

    Raises:
        ClaimError: if the values disagree, or ``measured`` is NaN or infinite.
        ValueError: for a malformed id, an empty source, tolerances that are negative, both zero,
            non-finite or ``rtol > 1``, or an id already checked differently in this run.

    Example:
        >>> c = check("demo/pi", source="Archimedes", expected=3.14159, measured=22 / 7, rtol=1e-3)
        ✓ demo/pi: expected 3.14159 | measured 3.14286 | rtol 0.001
    """
    chapter = _validate_common(id, source, description)
    expected = _as_float("expected", expected, id)
    measured = _as_float("measured", measured, id)
    rtol = _as_float("rtol", rtol, id)
    atol = _as_float("atol", atol, id)
    _tolerances(id, rtol, atol)
    if not math.isfinite(expected):
        raise ValueError(f"claim {id!r}: expected must be finite, got {expected}")
    bound = atol + rtol * abs(expected)
    passed = math.isfinite(measured) and abs(measured - expected) <= bound
    parts = ([f"rtol {_fmt(rtol)}"] if rtol else []) + ([f"atol {_fmt(atol)}"] if atol else [])
    return _record(
        Claim(id, chapter, description, source, _fmt(expected), measured, " + ".join(parts), passed)
    )


def check_bounds(
    id: str,
    *,
    source: str,
    measured: float,
    low: float = -math.inf,
    high: float = math.inf,
    description: str = "",
) -> Claim:
    """Check that ``low <= measured <= high`` (an inequality predicted by theory).

    Args:
        id: ``chapter/name``.
        source: where the prediction comes from.
        measured: the value the chapter computed.
        low: lower bound (may be ``-inf``).
        high: upper bound (may be ``inf``); at least one bound must be finite.
        description: the claim in words.

    Raises:
        ClaimError: if ``measured`` is outside the bounds, NaN or infinite.
        ValueError: if ``low > high`` or both bounds are infinite.

    Example:
        >>> c = check_bounds("demo/acc", source="Chen et al. (2018)", measured=0.97, low=0.95)
        ✓ demo/acc: expected >= 0.95 | measured 0.97 | bound
    """
    chapter = _validate_common(id, source, description)
    measured = _as_float("measured", measured, id)
    low = _as_float("low", low, id)
    high = _as_float("high", high, id)
    if math.isnan(low) or math.isnan(high) or low > high or (math.isinf(low) and math.isinf(high)):
        raise ValueError(f"claim {id!r}: need low <= high with at least one finite bound; got [{low}, {high}]")
    passed = math.isfinite(measured) and low <= measured <= high
    if math.isinf(low):
        expected = f"<= {_fmt(high)}"
    elif math.isinf(high):
        expected = f">= {_fmt(low)}"
    else:
        expected = f"in [{_fmt(low)}, {_fmt(high)}]"
    return _record(Claim(id, chapter, description, source, expected, measured, "bound", passed))


def check_test(
    id: str,
    *,
    source: str,
    pvalue: float,
    alpha: float,
    expected: str,
    description: str = "",
) -> Claim:
    """Check a statistical hypothesis: the claim holds unless the test rejects it at level ``alpha``.

    Example:
        >>> from scipy import stats
        >>> p = stats.ttest_1samp([0.1, -0.2, 0.05, 0.02, -0.1], 0.0).pvalue
        >>> c = check_test("demo/mean", source="a fair coin", pvalue=p, alpha=0.01,
        ...                expected="mean = 0")
        ✓ demo/mean: expected mean = 0 | measured 0.66 | p >= alpha = 0.01

    Args:
        id: ``chapter/name``.
        source: where the prediction comes from.
        pvalue: p-value of a test whose null hypothesis is the claim (the measurement is the p-value).
        alpha: significance level in [1e-6, 0.5].
        expected: the null hypothesis in words (e.g. ``"mean = 0.5"``).
        description: the claim in words.

    Raises:
        ClaimError: if ``pvalue < alpha`` or ``pvalue`` is NaN.
        ValueError: if ``alpha`` is not in [1e-6, 0.5] or ``pvalue`` not in [0, 1].
    """
    chapter = _validate_common(id, source, description)
    pvalue = _as_float("pvalue", pvalue, id)
    alpha = _as_float("alpha", alpha, id)
    lo, hi = ALPHA_RANGE
    if not lo <= alpha <= hi:
        raise ValueError(f"claim {id!r}: alpha must be in [{lo:g}, {hi:g}] (a smaller level rejects "
                         f"nothing); got {alpha}")
    if not math.isnan(pvalue) and not 0 <= pvalue <= 1:
        raise ValueError(f"claim {id!r}: pvalue must be in [0, 1], got {pvalue}")
    passed = math.isfinite(pvalue) and pvalue >= alpha
    return _record(Claim(id, chapter, description, source, str(expected), pvalue, f"p >= alpha = {_fmt(alpha)}", passed))


def records() -> list[Claim]:
    """All claims checked in this process, in the order they were first checked."""
    return list(_RECORDS.values())


def reset() -> None:
    """Forget the claims checked in this process."""
    _RECORDS.clear()


@contextmanager
def scoped() -> Iterator[None]:
    """A fresh, empty record of claims inside the ``with`` block; the previous records come back after.

    The claims checked inside are not written to ``DLTHEORY_CLAIMS_DIR``. For tests and for trying a
    check interactively without touching the chapter's records.

    Example:
        >>> with scoped():
        ...     c = check("demo/e", source="Euler", expected=2.71828, measured=2.718281828, atol=1e-5)
        ✓ demo/e: expected 2.71828 | measured 2.71828 | atol 1e-05
        >>> "demo/e" in [c.id for c in records()]
        False
    """
    saved = dict(_RECORDS)
    folder = os.environ.pop(ENV_VAR, None)
    _RECORDS.clear()
    try:
        yield
    finally:
        _RECORDS.clear()
        _RECORDS.update(saved)
        if folder is not None:
            os.environ[ENV_VAR] = folder


def load(folder: str | os.PathLike) -> list[Claim]:
    """Read the claim records the chapters wrote to ``folder`` (see ``DLTHEORY_CLAIMS_DIR``).

    Raises:
        FileNotFoundError: if the folder does not exist or holds no records.
    """
    path = Path(folder)
    files = sorted(path.glob("*.json")) if path.is_dir() else []
    if not files:
        raise FileNotFoundError(
            f"no claim records in {str(path)!r}: execute the chapters with {ENV_VAR} set (make book does)"
        )
    out = []
    for f in files:
        out.extend(Claim(**d) for d in json.loads(f.read_text()))
    return out


def markdown_table(claims: list[Claim], chapter_titles: dict[str, str] | None = None) -> str:
    """MyST Markdown listing of claims, one section per chapter, for the book's Claims page.

    Each claim is one list item: status, id, statement, source, and expected / measured / tolerance.

    Args:
        claims: the claims to list, in the order to show them.
        chapter_titles: optional map from chapter key to the document to link with ``{doc}``.
    """
    def clean(text: str) -> str:
        return " ".join(str(text).split())

    out: list[str] = []
    for chapter in dict.fromkeys(c.chapter for c in claims):
        title = f"{{doc}}`{chapter_titles[chapter]}`" if chapter_titles and chapter in chapter_titles else chapter
        mine = [c for c in claims if c.chapter == chapter]
        out += [f"## {title}", "", f"{sum(c.passed for c in mine)} of {len(mine)} claims pass.", ""]
        for c in mine:
            status = "✓ pass" if c.passed else "✗ FAIL"
            statement = f"{clean(c.description)}. " if c.description else ""
            out.append(
                f"- {status} `{c.id}`: {statement}*Source:* {clean(c.source)}. "
                f"Expected **{clean(c.expected)}**, measured **{_fmt(c.measured)}**, tolerance {clean(c.tolerance)}."
            )
        out.append("")
    return "\n".join(out).rstrip() + "\n"
