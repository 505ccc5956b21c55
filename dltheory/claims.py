"""Claims: a prediction of theory, checked against a measurement, and what the check rules out.

A chapter states each quantitative result it makes as a claim, and names the wrong theory the check
would catch::

    from dltheory import claims
    claims.check("dynamics/euler-order", source="E (2017); forward Euler is first order",
                 expected=-1.0, measured=slope, atol=0.1,
                 rival=-2.0, rival_source="a second-order scheme (midpoint)",
                 description="log-log slope of the ResNet error against depth")

A claim is evidence only if something plausible would have failed it. Four checks cover the book:

* :func:`check`: ``|measured - expected| <= atol + rtol * |expected|`` (a closed form or a
  computation). A prediction names a ``rival``: the value an older or cruder theory, "no effect", or
  a plausible bug predicts; the rival must lie outside the acceptance region, and the claim records
  the **margin** ``|rival - expected| / tolerance`` (> 1).
* :func:`check_bounds`: ``low <= measured <= high`` (an inequality); the rival lies outside the
  bounds.
* :func:`check_test`: the claim is the null of a statistical test and passes when ``p >= alpha``. It
  states the ``alternative`` it guards against and the test's ``power`` (>= 0.8) against it: not
  rejecting a null that the test could not have rejected is no result.
* :func:`check_effect`: the claim is an effect ("A beats B"); the null is "no effect" and the claim
  passes when ``p < alpha``.

Each check has a ``kind``:

* ``"prediction"`` (default): evidence about the world; needs a rival (or a power, for a null test).
* ``"identity"``: an exact mathematical identity verified numerically (costate = autograd, a closed
  form against another, a data set's statistics). Useful checks of the code, not evidence; no rival
  needed.
* ``"exercise"``: the checked answer of an exercise.

A threshold, window, seed or setting chosen after seeing a result is put on the record with
``settled_after_data=True`` and a sentence in ``settled_note``.

A failed claim raises :class:`ClaimError`, naming the claim, both values and the tolerance, so that
a chapter run by nbval or by the book build fails loudly. A NaN or infinite measurement always
fails.

Every check is recorded in memory (:func:`records`). When the environment variable
``DLTHEORY_CLAIMS_DIR`` is set (the book build sets it), the records of each chapter are also
written to ``$DLTHEORY_CLAIMS_DIR/<chapter>.json``; the book's Claims page is made from those files.

Each check prints one compact line where it runs (status, id, expected, measured, tolerance, what it
rules out), wrapped to at most 88 characters, so the reader sees every test next to its experiment.

The module refuses checks that cannot fail or cannot tell the theory from its rival: non-finite
tolerances, a relative tolerance above 1, an absolute tolerance above 10 |expected|, a rival inside
the acceptance region, a null test with power below 0.8, a significance level outside [1e-6, 0.5],
values that are not numbers, and a second check under an id already recorded in this run with a
different expectation or tolerance (re-running an identical check, as when a notebook cell is run
again, replaces the measurement; a failed claim cannot be re-checked with a looser tolerance).
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
from dataclasses import asdict, dataclass, fields
from pathlib import Path

__all__ = [
    "Claim",
    "ClaimError",
    "ENV_VAR",
    "KINDS",
    "MIN_POWER",
    "check",
    "check_bounds",
    "check_effect",
    "check_test",
    "records",
    "reset",
    "scoped",
    "load",
    "markdown_table",
]

#: Environment variable naming the folder where claim records are written.
ENV_VAR = "DLTHEORY_CLAIMS_DIR"

#: Bounds on what a check may be given: a tolerance larger than the value itself, or a test at a
#: level so small that no p-value can fall below it, would make a check that cannot fail.
MAX_RTOL = 1.0
#: A prediction's absolute tolerance may not exceed this multiple of ``|expected|`` (when expected
#: != 0).
MAX_ATOL_RATIO = 10.0
ALPHA_RANGE = (1e-6, 0.5)
#: The least power a null test must have against its stated alternative.
MIN_POWER = 0.8
#: The kinds of claim (see the module docstring).
KINDS = ("prediction", "identity", "exercise")
#: How a claim is tested.
TESTS = ("value", "bounds", "null", "effect")
#: Width of the line a check prints (the book's pages show about 90 characters).
LINE_WIDTH = 88

_ID = re.compile(r"^[a-z0-9][a-z0-9-]*/[a-z0-9][a-z0-9.-]*$")


#: A prediction without a rival (or a null test without power) is an error. Only the module's own
#: tests of other rules switch it off.
REQUIRE_RIVAL = True


def _require_rival() -> bool:
    return REQUIRE_RIVAL or os.environ.get("DLTHEORY_CLAIMS_STRICT", "") == "1"


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
        expected: the prediction, as text (a value, a range, or the null hypothesis in words).
        measured: the measured value (the p-value for a statistical test).
        tolerance: the tolerance or significance level, as text.
        passed: whether the measurement agrees with the prediction.
        kind: ``"prediction"``, ``"identity"`` or ``"exercise"``.
        test: ``"value"`` (:func:`check`), ``"bounds"``, ``"null"`` (:func:`check_test`) or
            ``"effect"`` (:func:`check_effect`).
        rival: the value a named wrong theory predicts (``None`` for identities and tests).
        rival_source: the wrong theory, in words.
        margin: ``|rival - expected| / tolerance`` for a value check; for bounds, how far outside
            the accepted interval the rival lies (> 1 means outside; see :func:`check_bounds`).
        alternative: for a statistical test, the alternative in words (the effect's null for
            :func:`check_effect`).
        power: for a null test, its power against ``alternative`` at this level and sample size.
        alpha: the significance level of a test.
        expected_value, rtol, atol, low, high: the numbers behind ``expected`` and ``tolerance``.
        settled_after_data: whether a setting of this check was chosen after seeing a result.
        settled_note: which setting, and why.
    """

    id: str
    chapter: str
    description: str
    source: str
    expected: str
    measured: float
    tolerance: str
    passed: bool
    kind: str = "prediction"
    test: str = "value"
    rival: float | None = None
    rival_source: str = ""
    margin: float | None = None
    alternative: str = ""
    power: float | None = None
    alpha: float | None = None
    expected_value: float | None = None
    rtol: float | None = None
    atol: float | None = None
    low: float | None = None
    high: float | None = None
    settled_after_data: bool = False
    settled_note: str = ""

    @property
    def status(self) -> str:
        return "pass" if self.passed else "FAIL"

    @property
    def is_evidence(self) -> bool:
        """A prediction (not an identity or an exercise answer)."""
        return self.kind == "prediction"

    def rules_out(self) -> str:
        """What the check rules out, in a few words (empty for identities)."""
        if self.test == "null" and self.alternative:
            return f"power {self.power:.2f} vs {self.alternative}"
        if self.test == "effect":
            return f"rules out {self.alternative or 'no effect'}"
        if self.rival is not None:
            return f"rules out {_fmt(self.rival)} ({self.rival_source})"
        if self.kind == "identity":
            return "identity"
        return ""

    def line(self) -> str:
        """The compact line a check prints: status, id, expected, measured, tolerance, rival."""
        mark = "✓" if self.passed else "✗"
        head = f"{mark} {self.id}"
        measured = (
            f"p {_fmt(self.measured)}"
            if self.test in ("null", "effect")
            else f"measured {_fmt(self.measured)}"
        )
        parts = [f"expected {self.expected}", measured, self.tolerance]
        if self.rules_out():
            parts.append(self.rules_out())
        if self.settled_after_data:
            parts.append("settled after data")
        one = f"{head}: " + " | ".join(parts)
        if len(one) <= LINE_WIDTH:
            return one
        lines, current = [head], "   "
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


def _validate_common(
    id: str,
    source: str,
    description: str,
    kind: str,
    settled_after_data: bool,
    settled_note: str,
    kinds: tuple[str, ...] = KINDS,
) -> str:
    if not isinstance(id, str) or not _ID.match(id):
        raise ValueError(
            f"claim id must look like 'chapter/name' (lower case, digits, '-', '.'); got {id!r}"
        )
    if not isinstance(source, str) or not source.strip():
        raise ValueError(
            f"claim {id!r}: source must name the paper, equation or figure it comes from"
        )
    if not isinstance(description, str):
        raise TypeError(f"claim {id!r}: description must be a string")
    if kind not in kinds:
        raise ValueError(
            f"claim {id!r}: kind must be one of {', '.join(map(repr, kinds))}; got {kind!r}"
        )
    if not isinstance(settled_after_data, bool):
        raise TypeError(f"claim {id!r}: settled_after_data must be True or False")
    if not isinstance(settled_note, str):
        raise TypeError(f"claim {id!r}: settled_note must be a string")
    if settled_after_data and not settled_note.strip():
        raise ValueError(
            f"claim {id!r}: settled_after_data=True needs settled_note, a sentence saying "
            "which setting was chosen after seeing a result, and why"
        )
    if settled_note.strip() and not settled_after_data:
        raise ValueError(f"claim {id!r}: settled_note is given but settled_after_data is False")
    return id.split("/", 1)[0]


def _as_float(name: str, value, id: str) -> float:
    """A real scalar (Python, numpy, or a one-element numpy/torch array) as float, else
    TypeError."""
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return float(value)
    if hasattr(value, "shape") and hasattr(value, "dtype") and hasattr(value, "item"):
        numeric = getattr(value, "is_floating_point", None)
        if numeric is not None:  # torch
            ok = value.dtype != __import__("torch").bool and not value.is_complex()
        # numpy: signed/unsigned integers and floats only (no bool, complex, str, bytes, object)
        else:
            ok = getattr(value.dtype, "kind", "") in "iuf"
        if ok and math.prod(value.shape) == 1:
            return float(value.reshape(()).item())
    raise TypeError(
        f"claim {id!r}: {name} must be a real number, got {type(value).__name__}"
        + (f" with dtype {value.dtype}" if hasattr(value, "dtype") else "")
    )


def _rival(id: str, kind: str, rival, rival_source) -> tuple[float | None, str]:
    """Validate the rival of a value or bounds check; ``None`` is allowed for
    identities/exercises."""
    if rival is None:
        if rival_source:
            raise ValueError(f"claim {id!r}: rival_source is given but rival is not")
        if kind == "prediction" and _require_rival():
            raise ValueError(
                f"claim {id!r}: a prediction needs rival= (the value a named wrong theory, "
                "'no effect' "
                "or a plausible bug predicts) and rival_source= (that theory, in words); an exact "
                "identity checked numerically is kind='identity'"
            )
        return None, ""
    value = _as_float("rival", rival, id)
    if not math.isfinite(value):
        raise ValueError(f"claim {id!r}: rival must be finite, got {value}")
    if not isinstance(rival_source, str) or not rival_source.strip():
        raise ValueError(
            f"claim {id!r}: rival_source must say which wrong theory predicts the rival"
        )
    return value, rival_source.strip()


def _tolerances(id: str, rtol: float, atol: float) -> None:
    if not (math.isfinite(rtol) and math.isfinite(atol)):
        raise ValueError(f"claim {id!r}: tolerances must be finite; got rtol={rtol}, atol={atol}")
    if rtol < 0 or atol < 0 or not (rtol > 0 or atol > 0):
        raise ValueError(
            f"claim {id!r}: need rtol >= 0 and atol >= 0 with at least one positive; "
            f"got rtol={rtol}, atol={atol}"
        )
    if rtol > MAX_RTOL:
        raise ValueError(
            f"claim {id!r}: rtol must be <= {MAX_RTOL} (a relative tolerance above 100% "
            f"cannot fail on a sign); got {rtol}"
        )


def _alpha(id: str, alpha: float) -> float:
    lo, hi = ALPHA_RANGE
    if not lo <= alpha <= hi:
        raise ValueError(
            f"claim {id!r}: alpha must be in [{lo:g}, {hi:g}] (a smaller level rejects "
            f"nothing); got {alpha}"
        )
    return alpha


def _pvalue(id: str, pvalue: float) -> float:
    if not math.isnan(pvalue) and not 0 <= pvalue <= 1:
        raise ValueError(f"claim {id!r}: pvalue must be in [0, 1], got {pvalue}")
    return pvalue


def _fmt(x: float | None) -> str:
    if x is None:
        return ""
    if math.isnan(x) or math.isinf(x):
        return str(x)
    if x == 0:
        return "0"
    if abs(x) >= 1e4 or abs(x) < 1e-3:
        return f"{x:.4g}"
    return f"{x:.6g}"


def _same_check(old: Claim, new: Claim) -> bool:
    keys = (
        "kind",
        "test",
        "source",
        "expected",
        "expected_value",
        "rtol",
        "atol",
        "low",
        "high",
        "alpha",
        "rival",
        "power",
        "alternative",
    )
    return all(getattr(old, k) == getattr(new, k) for k in keys)


def _write(folder: str, chapter: str) -> None:
    path = Path(folder)
    mine = [asdict(c) for c in _RECORDS.values() if c.chapter == chapter]
    try:
        path.mkdir(parents=True, exist_ok=True)
        (path / f"{chapter}.json").write_text(json.dumps(mine, indent=1))
    except OSError as err:
        raise OSError(f"cannot write claim records to {ENV_VAR}={folder!r}: {err}") from err


def _record(claim: Claim) -> Claim:
    old = _RECORDS.get(claim.id)
    if old is not None and (not old.passed or not _same_check(old, claim)):
        why = (
            "failed"
            if not old.passed
            else f"was checked as expected {old.expected} ({old.tolerance})"
        )
        raise ValueError(
            f"claim {claim.id!r} {why} earlier in this run; a claim is checked once (use a new id "
            f"for a different check, or claims.reset() to start over)"
        )
    _RECORDS[claim.id] = claim
    folder = os.environ.get(ENV_VAR)
    if folder:
        _write(folder, claim.chapter)
    print(claim.line(), flush=True)
    if not claim.passed:
        raise ClaimError(
            f"claim {claim.id!r} failed ({claim.description or claim.source}): "
            f"expected {claim.expected}, measured {_fmt(claim.measured)}, tolerance "
            f"{claim.tolerance}"
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
    rival: float | None = None,
    rival_source: str = "",
    kind: str = "prediction",
    description: str = "",
    settled_after_data: bool = False,
    settled_note: str = "",
) -> Claim:
    """Check that ``measured`` equals ``expected`` within ``atol + rtol * |expected|``.

    Args:
        id: ``chapter/name``, unique in the book.
        source: where the prediction comes from (paper and equation or figure).
        expected: the prediction of theory.
        measured: the value the chapter computed.
        rtol: relative tolerance, in [0, 1].
        atol: absolute tolerance (>= 0, finite; for a prediction at most 10 |expected| when
            expected != 0). At least one of ``rtol``, ``atol`` must be positive.
        rival: the value a named wrong theory or a plausible bug predicts; required for a
            prediction, and it must lie outside ``expected ± tolerance``.
        rival_source: that wrong theory, in words (``"first-order SME"``, ``"missing factor 2"``).
        kind: ``"prediction"``, ``"identity"`` or ``"exercise"`` (see the module docstring).
        description: the claim in words.
        settled_after_data: True if the tolerance or a setting was chosen after seeing a result.
        settled_note: with ``settled_after_data``, which setting and why.

    Returns:
        The recorded :class:`Claim`.

    Raises:
        ClaimError: if the values disagree, or ``measured`` is NaN or infinite.
        ValueError: for a malformed id, an empty source, tolerances that are negative, both zero,
            non-finite, ``rtol > 1`` or too wide, a prediction without a rival, a rival the
            tolerance cannot tell from the prediction, or an id already checked differently in this
            run.

    Example:
        >>> c = check("demo/pi", source="Archimedes", expected=3.14159, measured=22 / 7, rtol=1e-3,
        ...           rival=3.0, rival_source="1 Kings 7:23")
        ✓ demo/pi: expected 3.14159 | measured 3.14286 | rtol 0.001 | rules out 3 (1 Kings 7:23)
        >>> round(c.margin, 1)
        45.1
    """
    chapter = _validate_common(id, source, description, kind, settled_after_data, settled_note)
    expected = _as_float("expected", expected, id)
    measured = _as_float("measured", measured, id)
    rtol = _as_float("rtol", rtol, id)
    atol = _as_float("atol", atol, id)
    _tolerances(id, rtol, atol)
    if not math.isfinite(expected):
        raise ValueError(f"claim {id!r}: expected must be finite, got {expected}")
    if kind != "identity" and expected != 0 and atol > MAX_ATOL_RATIO * abs(expected):
        raise ValueError(
            f"claim {id!r}: atol={atol:g} is more than {MAX_ATOL_RATIO:g} x |expected| "
            f"= {MAX_ATOL_RATIO * abs(expected):g}: such a check cannot fail"
        )
    rival, rival_source = _rival(id, kind, rival, rival_source)
    bound = atol + rtol * abs(expected)
    margin = None
    if rival is not None:
        margin = abs(rival - expected) / bound
        if margin <= 1:
            raise ValueError(
                f"claim {id!r}: the rival {_fmt(rival)} ({rival_source}) lies inside the "
                "acceptance "
                f"region {_fmt(expected)} ± {_fmt(bound)}: this check cannot tell the theory "
                "from its "
                "rival"
            )
    passed = math.isfinite(measured) and abs(measured - expected) <= bound
    parts = ([f"rtol {_fmt(rtol)}"] if rtol else []) + ([f"atol {_fmt(atol)}"] if atol else [])
    return _record(
        Claim(
            id,
            chapter,
            description,
            source,
            _fmt(expected),
            measured,
            " + ".join(parts),
            passed,
            kind=kind,
            test="value",
            rival=rival,
            rival_source=rival_source,
            margin=margin,
            expected_value=expected,
            rtol=rtol,
            atol=atol,
            settled_after_data=settled_after_data,
            settled_note=settled_note.strip(),
        )
    )


def _bounds_margin(low: float, high: float, rival: float) -> float:
    """How far outside ``[low, high]`` the rival lies: > 1 outside, <= 1 inside.

    Two-sided: ``|rival - centre| / half-width``. One-sided: ``1 + gap / max(|bound|, |rival|)``,
    the gap past the finite bound relative to the size of the values compared.
    """
    if math.isfinite(low) and math.isfinite(high):
        half = (high - low) / 2
        return abs(rival - (low + high) / 2) / half if half > 0 else math.inf
    bound = low if math.isfinite(low) else high
    gap = (low - rival) if math.isfinite(low) else (rival - high)
    if gap <= 0:
        return 1.0 + gap / max(abs(bound), abs(rival), 1e-300)  # <= 1: inside
    return 1.0 + gap / max(abs(bound), abs(rival), 1e-300)


def check_bounds(
    id: str,
    *,
    source: str,
    measured: float,
    low: float = -math.inf,
    high: float = math.inf,
    rival: float | None = None,
    rival_source: str = "",
    kind: str = "prediction",
    description: str = "",
    settled_after_data: bool = False,
    settled_note: str = "",
) -> Claim:
    """Check that ``low <= measured <= high`` (an inequality predicted by theory).

    Args:
        id: ``chapter/name``.
        source: where the prediction comes from.
        measured: the value the chapter computed.
        low: lower bound (may be ``-inf``).
        high: upper bound (may be ``inf``); at least one bound must be finite.
        rival: the value a named wrong theory predicts (required for a prediction); it must lie
            outside ``[low, high]``. The recorded margin is ``|rival - centre| / half-width`` for
            two finite bounds, and ``1 + gap / max(|bound|, |rival|)`` for one.
        rival_source: that wrong theory, in words.
        kind, description, settled_after_data, settled_note: as in :func:`check`.

    Raises:
        ClaimError: if ``measured`` is outside the bounds, NaN or infinite.
        ValueError: if ``low > high``, both bounds are infinite, or the rival lies within the
        bounds.

    Example:
        >>> c = check_bounds("demo/acc", source="Chen et al. (2018)", measured=0.97, low=0.95,
        ...                  rival=0.5, rival_source="chance")
        ✓ demo/acc: expected >= 0.95 | measured 0.97 | bound | rules out 0.5 (chance)
    """
    chapter = _validate_common(id, source, description, kind, settled_after_data, settled_note)
    measured = _as_float("measured", measured, id)
    low = _as_float("low", low, id)
    high = _as_float("high", high, id)
    if math.isnan(low) or math.isnan(high) or low > high or (math.isinf(low) and math.isinf(high)):
        raise ValueError(
            f"claim {id!r}: need low <= high with at least one finite bound; got [{low}, {high}]"
        )
    rival, rival_source = _rival(id, kind, rival, rival_source)
    margin = None
    if rival is not None:
        margin = _bounds_margin(low, high, rival)
        if not low > rival and not rival > high:
            raise ValueError(
                f"claim {id!r}: the rival {_fmt(rival)} ({rival_source}) lies inside the accepted "
                f"range [{_fmt(low)}, {_fmt(high)}]: this check cannot tell the theory from "
                "its rival"
            )
    passed = math.isfinite(measured) and low <= measured <= high
    if math.isinf(low):
        expected = f"<= {_fmt(high)}"
    elif math.isinf(high):
        expected = f">= {_fmt(low)}"
    else:
        expected = f"in [{_fmt(low)}, {_fmt(high)}]"
    return _record(
        Claim(
            id,
            chapter,
            description,
            source,
            expected,
            measured,
            "bound",
            passed,
            kind=kind,
            test="bounds",
            rival=rival,
            rival_source=rival_source,
            margin=margin,
            low=low,
            high=high,
            settled_after_data=settled_after_data,
            settled_note=settled_note.strip(),
        )
    )


def check_test(
    id: str,
    *,
    source: str,
    pvalue: float,
    alpha: float,
    expected: str,
    alternative: str = "",
    power: float | None = None,
    kind: str = "prediction",
    description: str = "",
    settled_after_data: bool = False,
    settled_note: str = "",
) -> Claim:
    """Check a claim that is the null of a statistical test: it holds unless the test rejects it.

    Not rejecting a null is evidence only if the test could have rejected a plausible alternative,
    so the check states that ``alternative`` and the test's ``power`` against it (at this ``alpha``
    and sample size, by a closed form or by repeating the same test under the alternative), and
    refuses a power below :data:`MIN_POWER`.

    Example:
        >>> c = check_test("demo/mean", source="a fair coin", pvalue=0.66, alpha=0.01,
        ...                expected="mean = 0", alternative="mean = 0.5", power=0.93)
        ✓ demo/mean: expected mean = 0 | p 0.66 | p >= alpha = 0.01 | power 0.93 vs mean = 0.5

    Args:
        id: ``chapter/name``.
        source: where the prediction comes from.
        pvalue: p-value of a test whose null hypothesis is the claim (the measurement is the
        p-value). alpha: significance level in [1e-6, 0.5]. expected: the null hypothesis in words
        (e.g. ``"mean = 0.5"``). alternative: the plausible wrong theory the test guards against, in
        words. power: the probability that the test rejects at ``alpha`` when ``alternative`` holds,
        >= 0.8. kind: ``"prediction"`` or ``"exercise"``. description, settled_after_data,
        settled_note: as in :func:`check`.

    Raises:
        ClaimError: if ``pvalue < alpha`` or ``pvalue`` is NaN.
        ValueError: if ``alpha`` is not in [1e-6, 0.5], ``pvalue`` not in [0, 1], or the alternative
            or a power >= 0.8 is missing.
    """
    chapter = _validate_common(
        id,
        source,
        description,
        kind,
        settled_after_data,
        settled_note,
        kinds=("prediction", "exercise"),
    )
    pvalue = _pvalue(id, _as_float("pvalue", pvalue, id))
    alpha = _alpha(id, _as_float("alpha", alpha, id))
    if not isinstance(alternative, str):
        raise TypeError(f"claim {id!r}: alternative must be a string")
    if power is not None:
        power = _as_float("power", power, id)
        if not 0 <= power <= 1:
            raise ValueError(f"claim {id!r}: power must be in [0, 1], got {power}")
    if _require_rival() or power is not None or alternative:
        if not alternative.strip() or power is None:
            raise ValueError(
                f"claim {id!r}: a claim that is the null of a test needs alternative= (the wrong "
                "theory it guards against) and power= (the test's power against it at this alpha)"
            )
        if power < MIN_POWER:
            raise ValueError(
                f"claim {id!r}: the test has power {power:.2f} < {MIN_POWER} against "
                f"{alternative!r}: not rejecting the null would be no evidence (use more samples, "
                "a stronger test or an equivalence test)"
            )
    passed = math.isfinite(pvalue) and pvalue >= alpha
    return _record(
        Claim(
            id,
            chapter,
            description,
            source,
            str(expected),
            pvalue,
            f"p >= alpha = {_fmt(alpha)}",
            passed,
            kind=kind,
            test="null",
            alternative=alternative.strip(),
            power=power,
            alpha=alpha,
            settled_after_data=settled_after_data,
            settled_note=settled_note.strip(),
        )
    )


def check_effect(
    id: str,
    *,
    source: str,
    pvalue: float,
    alpha: float,
    expected: str,
    null: str = "no effect",
    kind: str = "prediction",
    description: str = "",
    settled_after_data: bool = False,
    settled_note: str = "",
) -> Claim:
    """Check an effect ("A beats B"): the test's null is "no effect", and the claim passes when
    ``p < alpha``.

    Example:
        >>> c = check_effect("demo/drug", source="a trial", pvalue=0.002, alpha=0.01,
        ...                  expected="drug helps")
        ✓ demo/drug: expected drug helps | p 0.002 | p < alpha = 0.01 | rules out no effect

    Args:
        id: ``chapter/name``.
        source: where the prediction comes from.
        pvalue: p-value of a test whose null is ``null`` (one-sided in the direction of the effect
            where the claim has a direction).
        alpha: significance level in [1e-6, 0.5].
        expected: the effect, in words.
        null: the hypothesis of no effect, in words.
        kind, description, settled_after_data, settled_note: as in :func:`check_test`.

    Raises:
        ClaimError: if ``pvalue >= alpha`` or ``pvalue`` is NaN.
        ValueError: if ``alpha`` is not in [1e-6, 0.5] or ``pvalue`` not in [0, 1].
    """
    chapter = _validate_common(
        id,
        source,
        description,
        kind,
        settled_after_data,
        settled_note,
        kinds=("prediction", "exercise"),
    )
    pvalue = _pvalue(id, _as_float("pvalue", pvalue, id))
    alpha = _alpha(id, _as_float("alpha", alpha, id))
    if not isinstance(null, str) or not null.strip():
        raise ValueError(f"claim {id!r}: null must state the hypothesis of no effect, in words")
    passed = math.isfinite(pvalue) and pvalue < alpha
    return _record(
        Claim(
            id,
            chapter,
            description,
            source,
            str(expected),
            pvalue,
            f"p < alpha = {_fmt(alpha)}",
            passed,
            kind=kind,
            test="effect",
            alternative=null.strip(),
            alpha=alpha,
            settled_after_data=settled_after_data,
            settled_note=settled_note.strip(),
        )
    )


def records() -> list[Claim]:
    """All claims checked in this process, in the order they were first checked."""
    return list(_RECORDS.values())


def reset() -> None:
    """Forget the claims checked in this process."""
    _RECORDS.clear()


@contextmanager
def scoped() -> Iterator[None]:
    """A fresh, empty record of claims inside the ``with`` block; the previous records come back
    after.

    The claims checked inside are not written to ``DLTHEORY_CLAIMS_DIR``. For tests and for trying a
    check interactively without touching the chapter's records.

    Example:
        >>> with scoped():
        ...     c = check(
        ...         "demo/e",
        ...         source="Euler",
        ...         expected=2.71828,
        ...         measured=2.718281828,
        ...         atol=1e-5,
        ...         kind="identity",
        ...     )
        ✓ demo/e: expected 2.71828 | measured 2.71828 | atol 1e-05 | identity
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


_FIELD_TYPES = {
    "id": str,
    "chapter": str,
    "description": str,
    "source": str,
    "expected": str,
    "measured": float,
    "tolerance": str,
    "passed": bool,
    "kind": str,
    "test": str,
    "rival": (float, type(None)),
    "rival_source": str,
    "margin": (float, type(None)),
    "alternative": str,
    "power": (float, type(None)),
    "alpha": (float, type(None)),
    "expected_value": (float, type(None)),
    "rtol": (float, type(None)),
    "atol": (float, type(None)),
    "low": (float, type(None)),
    "high": (float, type(None)),
    "settled_after_data": bool,
    "settled_note": str,
}


def _from_record(d, where: str) -> Claim:
    if not isinstance(d, dict):
        raise ValueError(f"{where}: a claim record must be a JSON object, got {type(d).__name__}")
    names = {f.name for f in fields(Claim)}
    unknown = set(d) - names
    missing = {
        "id",
        "chapter",
        "description",
        "source",
        "expected",
        "measured",
        "tolerance",
        "passed",
    } - set(d)
    if unknown or missing:
        raise ValueError(
            f"{where}: claim record {d.get('id')!r} has unknown fields {sorted(unknown)} "
            f"or lacks {sorted(missing)}"
        )
    out = {}
    for key, value in d.items():
        want = _FIELD_TYPES[key]
        if (
            isinstance(value, int)
            and not isinstance(value, bool)
            and want in (float, (float, type(None)))
        ):
            value = float(value)
        if want is float and isinstance(value, bool) or not isinstance(value, want):
            raise ValueError(
                f"{where}: field {key!r} of claim {d.get('id')!r} must be "
                f"{getattr(want, '__name__', 'a number or null')}, got {value!r}"
            )
        out[key] = value
    if out.get("kind", "prediction") not in KINDS or out.get("test", "value") not in TESTS:
        raise ValueError(
            f"{where}: claim {d.get('id')!r} has kind {out.get('kind')!r} / test "
            f"{out.get('test')!r}; allowed kinds {KINDS}, tests {TESTS}"
        )
    return Claim(**out)


def load(folder: str | os.PathLike) -> list[Claim]:
    """Read the claim records the chapters wrote to ``folder`` (see ``DLTHEORY_CLAIMS_DIR``).

    Every field is type-checked: a record with ``"passed": "no"`` is an error, not a pass.

    Raises:
        FileNotFoundError: if the folder does not exist or holds no records.
        ValueError: if a record is malformed.
    """
    path = Path(folder)
    files = sorted(path.glob("*.json")) if path.is_dir() else []
    if not files:
        raise FileNotFoundError(
            f"no claim records in {str(path)!r}: execute the chapters with {ENV_VAR} set "
            "(make book does)"
        )
    out = []
    for f in files:
        data = json.loads(f.read_text())
        if not isinstance(data, list):
            raise ValueError(f"{f}: claim records must be a JSON list")
        out.extend(_from_record(d, str(f)) for d in data)
    return out


def _clean(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def _row(c: Claim, columns: list[str]) -> str:
    cells = {
        "status": "✓" if c.passed else "✗ FAIL",
        "id": f"`{c.id}`" + (" †" if c.settled_after_data else ""),
        "claim": (_clean(c.description) + " " if c.description else "") + f"*{_clean(c.source)}*",
        "expected": _clean(c.expected),
        "measured": ("p = " if c.test in ("null", "effect") else "") + _fmt(c.measured),
        "tolerance": _clean(c.tolerance),
        "rules out": _clean(c.rules_out()) if c.kind != "identity" else "",
        "margin": (
            f"{c.margin:.3g}"
            if c.margin is not None and math.isfinite(c.margin)
            else (f"power {c.power:.2f}" if c.power is not None else "")
        ),
    }
    return "| " + " | ".join(cells[k] for k in columns) + " |"


def markdown_table(claims: list[Claim], chapter_titles: dict[str, str] | None = None) -> str:
    """MyST Markdown tables of claims, one section per chapter, for the book's Claims page.

    Per chapter: a count of predictions, identities and post-hoc settings; a table of predictions
    (status, id, claim and source, expected, measured, tolerance, what it rules out, margin or
    power); and a table of the identities checked numerically, which are checks of the code, not
    evidence. A dagger (†) marks a claim with a setting chosen after seeing data, with the reason
    below the table.

    Args:
        claims: the claims to list, in the order to show them.
        chapter_titles: optional map from chapter key to the document to link with ``{doc}``.
    """
    cols = ["status", "id", "claim", "expected", "measured", "tolerance", "rules out", "margin"]
    id_cols = ["status", "id", "claim", "expected", "measured", "tolerance"]
    out: list[str] = []
    for chapter in dict.fromkeys(c.chapter for c in claims):
        title = (
            f"{{doc}}`{chapter_titles[chapter]}`"
            if chapter_titles and chapter in chapter_titles
            else chapter
        )
        mine = [c for c in claims if c.chapter == chapter]
        preds = [c for c in mine if c.kind != "identity"]
        idents = [c for c in mine if c.kind == "identity"]
        posthoc = [c for c in mine if c.settled_after_data]
        out += [
            f"## {title}",
            "",
            f"{sum(c.passed for c in mine)} of {len(mine)} claims pass: {len(preds)} predictions, "
            f"{len(idents)} identities, {len(posthoc)} with a setting chosen after seeing "
            "data (†).",
            "",
        ]
        for group, columns, label in (
            (preds, cols, "Predictions"),
            (idents, id_cols, "Identities"),
        ):
            if not group:
                continue
            out += [
                f"**{label}**",
                "",
                "| " + " | ".join(columns) + " |",
                "|" + "---|" * len(columns),
            ]
            out += [_row(c, columns) for c in group]
            out.append("")
        for c in posthoc:
            out.append(f"- † `{c.id}`: {_clean(c.settled_note)}")
        out.append("")
    return "\n".join(out).rstrip() + "\n"
