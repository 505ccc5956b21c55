"""Checked claims: pass/fail logic, the error message, NaN handling, records and the Claims
table."""

import json
import math

import numpy as np
import pytest
import torch


@pytest.fixture
def lax_claims(fresh_claims, monkeypatch):
    """The registry with rivals optional: for the tests of the other rules (tolerances, records)."""
    monkeypatch.setattr(fresh_claims, "REQUIRE_RIVAL", False)
    monkeypatch.delenv("DLTHEORY_CLAIMS_STRICT", raising=False)
    return fresh_claims


def test_close_claim_passes_and_is_recorded(lax_claims):
    c = lax_claims.check(
        "demo/pi", source="Archimedes", expected=math.pi, measured=22 / 7, rtol=1e-3
    )
    assert c.passed and c.status == "pass"
    assert c.chapter == "demo"
    assert [r.id for r in lax_claims.records()] == ["demo/pi"]


def test_close_claim_uses_atol_plus_rtol(lax_claims):
    # |1.15 - 1| = 0.15 <= 0.1 + 0.1 * 1 passes; 0.25 does not.
    lax_claims.check("demo/a", source="s", expected=1.0, measured=1.15, rtol=0.1, atol=0.1)
    with pytest.raises(lax_claims.ClaimError):
        lax_claims.check("demo/b", source="s", expected=1.0, measured=1.25, rtol=0.1, atol=0.1)


def test_failed_claim_names_claim_values_and_tolerance(lax_claims):
    with pytest.raises(lax_claims.ClaimError) as err:
        lax_claims.check(
            "demo/slope",
            source="E (2017)",
            expected=-1.0,
            measured=-0.8,
            atol=0.05,
            description="Euler order",
        )
    msg = str(err.value)
    for part in ("demo/slope", "-1", "-0.8", "atol 0.05", "Euler order"):
        assert part in msg
    assert lax_claims.records()[-1].passed is False


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_nonfinite_measurement_fails(lax_claims, bad):
    with pytest.raises(lax_claims.ClaimError, match="nan|inf"):
        lax_claims.check("demo/x", source="s", expected=1.0, measured=bad, rtol=1.0)
    with pytest.raises(lax_claims.ClaimError):
        lax_claims.check_bounds("demo/y", source="s", measured=bad, low=-1e300)


def test_accepts_numpy_and_torch_scalars(lax_claims):
    lax_claims.check(
        "demo/np", source="s", expected=np.float32(2.0), measured=np.array(2.0), atol=1e-6
    )
    lax_claims.check("demo/torch", source="s", expected=2.0, measured=torch.tensor(2.0), atol=1e-6)
    with pytest.raises(TypeError, match="measured must be a real number"):
        lax_claims.check("demo/arr", source="s", expected=2.0, measured=np.ones(3), atol=1e-6)
    with pytest.raises(TypeError, match="measured must be a real number"):
        lax_claims.check("demo/str", source="s", expected=2.0, measured="2", atol=1e-6)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(id="Bad Id", source="s", expected=1, measured=1, atol=1), "chapter/name"),
        (dict(id="demo/x", source=" ", expected=1, measured=1, atol=1), "source"),
        (dict(id="demo/x", source="s", expected=1, measured=1), "at least one positive"),
        (dict(id="demo/x", source="s", expected=1, measured=1, rtol=-1), "rtol >= 0"),
        (
            dict(id="demo/x", source="s", expected=float("nan"), measured=1, atol=1),
            "expected must be finite",
        ),
    ],
)
def test_check_validates_arguments(lax_claims, kwargs, match):
    with pytest.raises(ValueError, match=match):
        lax_claims.check(**kwargs)


def test_bounds(lax_claims):
    assert (
        lax_claims.check_bounds("demo/acc", source="s", measured=0.97, low=0.95).expected
        == ">= 0.95"
    )
    assert (
        lax_claims.check_bounds("demo/r", source="s", measured=4.0, low=3, high=8).expected
        == "in [3, 8]"
    )
    with pytest.raises(lax_claims.ClaimError, match=r"in \[3, 8\]"):
        lax_claims.check_bounds("demo/r2", source="s", measured=9.0, low=3, high=8)
    with pytest.raises(ValueError, match="low <= high"):
        lax_claims.check_bounds("demo/r3", source="s", measured=1.0, low=2, high=1)
    with pytest.raises(ValueError, match="finite bound"):
        lax_claims.check_bounds("demo/r4", source="s", measured=1.0)


def test_statistical_claim(lax_claims):
    lax_claims.check_test("demo/p", source="s", pvalue=0.3, alpha=0.01, expected="mean = 0")
    with pytest.raises(lax_claims.ClaimError, match="alpha = 0.01"):
        lax_claims.check_test("demo/p2", source="s", pvalue=0.001, alpha=0.01, expected="mean = 0")
    with pytest.raises(ValueError, match="alpha"):
        lax_claims.check_test("demo/p3", source="s", pvalue=0.5, alpha=1.5, expected="x")
    with pytest.raises(lax_claims.ClaimError):
        lax_claims.check_test("demo/p4", source="s", pvalue=float("nan"), alpha=0.01, expected="x")


def test_records_written_per_chapter_and_loaded(lax_claims, tmp_path, monkeypatch):
    monkeypatch.setenv(lax_claims.ENV_VAR, str(tmp_path))
    lax_claims.check("alpha/one", source="s", expected=1, measured=1, atol=0.1)
    lax_claims.check("beta/two", source="s", expected=2, measured=2, atol=0.1)
    lax_claims.check("alpha/three", source="s", expected=3, measured=3, atol=0.1)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["alpha.json", "beta.json"]
    assert [d["id"] for d in json.loads((tmp_path / "alpha.json").read_text())] == [
        "alpha/one",
        "alpha/three",
    ]
    loaded = lax_claims.load(tmp_path)
    assert {c.id for c in loaded} == {"alpha/one", "alpha/three", "beta/two"}
    table = lax_claims.markdown_table(loaded, {"alpha": "alpha"})
    assert "## {doc}`alpha`" in table and "## beta" in table and table.count("| ✓ |") == 3
    assert "2 of 2 claims pass: 2 predictions, 0 identities" in table
    assert "| ✓ | `alpha/one` | *s* | 1 | 1 | atol 0.1 |" in table
    assert table.index("alpha/one") < table.index("alpha/three") < table.index("beta/two")


def test_each_check_prints_one_compact_line(lax_claims, capsys):
    c = lax_claims.check("demo/r", source="s", expected=2.0, measured=2.001, atol=0.01)
    assert capsys.readouterr().out == "✓ demo/r: expected 2 | measured 2.001 | atol 0.01\n"
    assert repr(c) == c.line() == "✓ demo/r: expected 2 | measured 2.001 | atol 0.01"
    with pytest.raises(lax_claims.ClaimError):
        lax_claims.check("demo/bad", source="s", expected=2.0, measured=3.0, rtol=0.1)
    assert capsys.readouterr().out.startswith("✗ demo/bad: expected 2 | measured 3 | rtol 0.1")


def test_long_lines_wrap_within_88_characters(lax_claims, capsys):
    lax_claims.check_test(
        "demo/" + "a-very-long-claim-name" * 2,
        source="s",
        pvalue=0.4,
        alpha=0.01,
        expected="the stationary covariance equals the Lyapunov solution",
    )
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) >= 2 and all(len(line) <= 88 for line in lines)
    assert lines[0].startswith("✓ demo/a-very") and "p 0.4" in "".join(lines)


def test_a_claim_at_the_end_of_a_cell_is_not_shown_twice(lax_claims):
    c = lax_claims.check("demo/shown", source="s", expected=1, measured=1, atol=0.1)
    assert c._ipython_display_() is None


# --------------------------------------------------------------------------- loopholes closed


@pytest.mark.parametrize(
    "tol",
    [dict(atol=math.inf), dict(rtol=math.inf), dict(atol=math.nan), dict(rtol=math.nan, atol=1.0)],
)
def test_non_finite_tolerances_are_refused(lax_claims, tol):
    with pytest.raises(ValueError, match="finite"):
        lax_claims.check("demo/inf", source="s", expected=1.0, measured=1e9, **tol)


@pytest.mark.parametrize("rtol", [1.5, 10.0])
def test_relative_tolerance_above_one_is_refused(lax_claims, rtol):
    with pytest.raises(ValueError, match="rtol must be <= 1"):
        lax_claims.check("demo/loose", source="s", expected=1.0, measured=-5.0, rtol=rtol)
    assert lax_claims.check("demo/ok", source="s", expected=1.0, measured=1.9, rtol=1.0).passed


@pytest.mark.parametrize("alpha", [1e-300, 1e-7, 0.6, 0.0, 1.0])
def test_alpha_outside_the_sensible_range_is_refused(lax_claims, alpha):
    with pytest.raises(ValueError, match="alpha must be in"):
        lax_claims.check_test("demo/a", source="s", pvalue=1e-200, alpha=alpha, expected="x")


@pytest.mark.parametrize(
    "value",
    [
        np.array("1.0"),
        np.array(b"1.0"),
        np.array(["1.0"]),
        np.array(True),
        np.array(1 + 0j),
        torch.tensor(True),
        np.array(1.0, dtype=object),
    ],
)
def test_non_numeric_dtypes_are_refused(lax_claims, value):
    with pytest.raises(TypeError, match="must be a real number"):
        lax_claims.check("demo/s", source="s", expected=1.0, measured=value, atol=0.1)


def test_a_failed_claim_cannot_be_rechecked_with_a_looser_tolerance(lax_claims):
    with pytest.raises(lax_claims.ClaimError):
        lax_claims.check("demo/f", source="s", expected=1.0, measured=1.5, atol=0.1)
    with pytest.raises(ValueError, match="failed earlier"):
        lax_claims.check("demo/f", source="s", expected=1.0, measured=1.5, atol=1.0)
    assert lax_claims.records()[-1].passed is False


def test_an_id_is_checked_once_unless_repeated_identically(lax_claims):
    lax_claims.check("demo/once", source="s", expected=1.0, measured=1.01, atol=0.1)
    # Re-running the same cell (same expectation and tolerance) replaces the measurement ...
    lax_claims.check("demo/once", source="s", expected=1.0, measured=1.02, atol=0.1)
    assert lax_claims.records()[-1].measured == 1.02
    # ... a different check under the same id is refused.
    with pytest.raises(ValueError, match="checked once"):
        lax_claims.check("demo/once", source="s", expected=1.0, measured=1.02, atol=0.5)
    with pytest.raises(ValueError, match="checked once"):
        lax_claims.check_bounds("demo/once", source="s", measured=1.0, low=0.0)


def test_scoped_records_leave_the_outer_records_alone(lax_claims, tmp_path, monkeypatch):
    monkeypatch.setenv(lax_claims.ENV_VAR, str(tmp_path))
    lax_claims.check("outer/one", source="s", expected=1, measured=1, atol=0.1)
    with lax_claims.scoped():
        lax_claims.check("inner/two", source="s", expected=2, measured=2, atol=0.1)
        assert [c.id for c in lax_claims.records()] == ["inner/two"]
    assert [c.id for c in lax_claims.records()] == ["outer/one"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["outer.json"]


def test_load_without_records_explains(tmp_path, lax_claims):
    with pytest.raises(FileNotFoundError, match="DLTHEORY_CLAIMS_DIR"):
        lax_claims.load(tmp_path / "nowhere")


# ------------------------------------------------------------------------ rivals, power, identities


def test_a_rival_is_recorded_with_its_margin_and_printed(fresh_claims, capsys):
    c = fresh_claims.check(
        "demo/slope2",
        source="s",
        expected=2.0,
        measured=2.05,
        atol=0.2,
        rival=1.0,
        rival_source="first-order SME",
    )
    assert c.rival == 1.0 and c.rival_source == "first-order SME" and math.isclose(c.margin, 5.0)
    assert "rules out 1 (first-order SME)" in capsys.readouterr().out


@pytest.mark.parametrize("rival", [2.1, 1.85, 2.0])
def test_a_rival_inside_the_acceptance_region_is_refused(fresh_claims, rival):
    with pytest.raises(ValueError, match="cannot tell the theory from its rival"):
        fresh_claims.check(
            "demo/r",
            source="s",
            expected=2.0,
            measured=2.0,
            atol=0.2,
            rival=rival,
            rival_source="x",
        )


def test_rival_must_be_finite_and_named(fresh_claims):
    with pytest.raises(ValueError, match="rival must be finite"):
        fresh_claims.check(
            "demo/r",
            source="s",
            expected=1.0,
            measured=1.0,
            atol=0.1,
            rival=math.inf,
            rival_source="x",
        )
    with pytest.raises(ValueError, match="rival_source"):
        fresh_claims.check("demo/r", source="s", expected=1.0, measured=1.0, atol=0.1, rival=5.0)
    with pytest.raises(ValueError, match="rival_source is given"):
        fresh_claims.check(
            "demo/r",
            source="s",
            expected=1.0,
            measured=1.0,
            atol=0.1,
            rival_source="x",
            kind="identity",
        )


def test_a_prediction_without_a_rival_is_refused_when_required(fresh_claims, monkeypatch):
    monkeypatch.setattr(fresh_claims, "REQUIRE_RIVAL", True)
    with pytest.raises(ValueError, match="needs rival="):
        fresh_claims.check("demo/n", source="s", expected=1.0, measured=1.0, atol=0.1)
    with pytest.raises(ValueError, match="needs rival="):
        fresh_claims.check_bounds("demo/n", source="s", measured=1.0, low=0.5)
    with pytest.raises(ValueError, match="alternative= .* and power="):
        fresh_claims.check_test("demo/n", source="s", pvalue=0.5, alpha=0.01, expected="x")
    # identities need no rival
    c = fresh_claims.check(
        "demo/i", source="s", expected=1.0, measured=1.0, atol=1e-9, kind="identity"
    )
    assert c.kind == "identity" and not c.is_evidence and c.rival is None


def test_environment_switch_requires_rivals(fresh_claims, monkeypatch):
    monkeypatch.setenv("DLTHEORY_CLAIMS_STRICT", "1")
    with pytest.raises(ValueError, match="needs rival="):
        fresh_claims.check("demo/n", source="s", expected=1.0, measured=1.0, atol=0.1)


def test_atol_wider_than_ten_times_expected_is_refused(fresh_claims):
    with pytest.raises(ValueError, match="cannot fail"):
        fresh_claims.check(
            "demo/w",
            source="s",
            expected=1.0,
            measured=5.0,
            atol=11.0,
            rival=50.0,
            rival_source="x",
        )
    # the example of the issue: expected 0, measured 1e6, atol 1e300 needs a rival beyond 1e300
    with pytest.raises(ValueError, match="cannot tell"):
        fresh_claims.check(
            "demo/z",
            source="s",
            expected=0.0,
            measured=1e6,
            atol=1e300,
            rival=1.0,
            rival_source="x",
        )
    with pytest.raises(ValueError, match="kind must be one of"):
        fresh_claims.check("demo/k", source="s", expected=1.0, measured=1.0, atol=0.1, kind="proof")


@pytest.mark.parametrize(
    "low, high, rival, margin",
    [
        (3.0, 8.0, 1.0, 1.8),
        (3.0, 8.0, 13.0, 3.0),
        (47.4, math.inf, 29.0, 1 + 18.4 / 47.4),
        (-math.inf, 0.1, 0.3, 1 + 0.2 / 0.3),
    ],
)
def test_bounds_rival_margin(fresh_claims, low, high, rival, margin):
    c = fresh_claims.check_bounds(
        "demo/b",
        source="s",
        measured=5e1 if low > 10 else 0.0 if high < 1 else 5.0,
        low=low,
        high=high,
        rival=rival,
        rival_source="x",
    )
    assert math.isclose(c.margin, margin)


@pytest.mark.parametrize("rival", [3.0, 5.0, 8.0])
def test_bounds_rival_inside_is_refused(fresh_claims, rival):
    with pytest.raises(ValueError, match="cannot tell"):
        fresh_claims.check_bounds(
            "demo/b",
            source="s",
            measured=5.0,
            low=3.0,
            high=8.0,
            rival=rival,
            rival_source="constant depth",
        )


def test_null_test_needs_power_against_a_named_alternative(fresh_claims):
    c = fresh_claims.check_test(
        "demo/t",
        source="s",
        pvalue=0.4,
        alpha=0.01,
        expected="var = 1",
        alternative="var = 1.1 (OU)",
        power=0.9,
    )
    assert c.test == "null" and c.power == 0.9 and "power 0.90 vs var = 1.1 (OU)" in c.line()
    with pytest.raises(ValueError, match="power 0.50 < 0.8"):
        fresh_claims.check_test(
            "demo/t2", source="s", pvalue=0.4, alpha=0.01, expected="x", alternative="y", power=0.5
        )
    with pytest.raises(ValueError, match="needs alternative"):
        fresh_claims.check_test(
            "demo/t3", source="s", pvalue=0.4, alpha=0.01, expected="x", power=0.9
        )
    with pytest.raises(ValueError, match="power must be in"):
        fresh_claims.check_test(
            "demo/t4", source="s", pvalue=0.4, alpha=0.01, expected="x", alternative="y", power=1.5
        )
    with pytest.raises(ValueError, match="kind must be one of"):
        fresh_claims.check_test(
            "demo/t5",
            source="s",
            pvalue=0.4,
            alpha=0.01,
            expected="x",
            alternative="y",
            power=0.9,
            kind="identity",
        )


def test_effect_passes_only_when_the_null_of_no_effect_is_rejected(fresh_claims):
    c = fresh_claims.check_effect(
        "demo/e", source="s", pvalue=0.001, alpha=0.01, expected="MAML beats the baseline"
    )
    assert c.passed and c.test == "effect" and "rules out no effect" in c.line()
    with pytest.raises(fresh_claims.ClaimError, match="p < alpha"):
        fresh_claims.check_effect("demo/e2", source="s", pvalue=0.3, alpha=0.01, expected="x")
    with pytest.raises(fresh_claims.ClaimError):
        fresh_claims.check_effect("demo/e3", source="s", pvalue=math.nan, alpha=0.01, expected="x")
    with pytest.raises(ValueError, match="null must state"):
        fresh_claims.check_effect(
            "demo/e4", source="s", pvalue=0.001, alpha=0.01, expected="x", null=" "
        )


def test_post_hoc_settings_need_a_sentence(fresh_claims):
    c = fresh_claims.check(
        "demo/ph",
        source="s",
        expected=1.0,
        measured=1.0,
        atol=0.1,
        rival=2.0,
        rival_source="x",
        settled_after_data=True,
        settled_note="window moved after a first run",
    )
    assert c.settled_after_data and "settled after data" in c.line()
    with pytest.raises(ValueError, match="needs settled_note"):
        fresh_claims.check(
            "demo/ph2",
            source="s",
            expected=1.0,
            measured=1.0,
            atol=0.1,
            rival=2.0,
            rival_source="x",
            settled_after_data=True,
        )
    with pytest.raises(ValueError, match="settled_after_data is False"):
        fresh_claims.check(
            "demo/ph3",
            source="s",
            expected=1.0,
            measured=1.0,
            atol=0.1,
            rival=2.0,
            rival_source="x",
            settled_note="oops",
        )
    with pytest.raises(TypeError, match="True or False"):
        fresh_claims.check(
            "demo/ph4",
            source="s",
            expected=1.0,
            measured=1.0,
            atol=0.1,
            rival=2.0,
            rival_source="x",
            settled_after_data="yes",
            settled_note="n",
        )


def test_tolerances_are_compared_as_numbers_not_text(fresh_claims):
    fresh_claims.check(
        "demo/num",
        source="s",
        expected=1.0,
        measured=1.0,
        atol=0.1000001,
        rival=2.0,
        rival_source="x",
    )
    with pytest.raises(ValueError, match="checked once"):  # same 6-digit text, different number
        fresh_claims.check(
            "demo/num",
            source="s",
            expected=1.0,
            measured=1.0,
            atol=0.1000002,
            rival=2.0,
            rival_source="x",
        )


def test_every_line_fits_88_columns(fresh_claims, capsys):
    fresh_claims.check(
        "demo/" + "long-name-" * 4 + "x",
        source="s",
        expected=123.456,
        measured=123.5,
        atol=1.0,
        rival=61.728,
        rival_source="a missing factor of two in the variance "
        "of the gradient noise of the minibatch",
    )
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) >= 2 and all(len(line) <= 88 for line in lines)
    assert "rules out 61.728" in " ".join(lines)


@pytest.mark.parametrize(
    "field, value",
    [
        ("passed", "no"),
        ("measured", "1.0"),
        ("kind", "proof"),
        ("rival", "2"),
        ("settled_after_data", 1),
        ("power", [0.9]),
    ],
)
def test_load_validates_every_field(fresh_claims, tmp_path, field, value):
    record = dict(
        id="demo/x",
        chapter="demo",
        description="",
        source="s",
        expected="1",
        measured=1.0,
        tolerance="atol 0.1",
        passed=True,
    )
    record[field] = value
    (tmp_path / "demo.json").write_text(json.dumps([record]))
    with pytest.raises(ValueError, match=field if field != "kind" else "kind"):
        fresh_claims.load(tmp_path)


def test_load_refuses_unknown_fields(fresh_claims, tmp_path):
    record = dict(
        id="demo/x",
        chapter="demo",
        description="",
        source="s",
        expected="1",
        measured=1.0,
        tolerance="atol 0.1",
        passed=True,
        verdict="ok",
    )
    (tmp_path / "demo.json").write_text(json.dumps([record]))
    with pytest.raises(ValueError, match="unknown fields"):
        fresh_claims.load(tmp_path)


def test_round_trip_and_tables_keep_identities_apart(fresh_claims, tmp_path, monkeypatch):
    monkeypatch.setenv(fresh_claims.ENV_VAR, str(tmp_path))
    fresh_claims.check(
        "demo/p",
        source="s",
        expected=2.0,
        measured=2.0,
        atol=0.1,
        rival=1.0,
        rival_source="first order",
        description="slope",
    )
    fresh_claims.check("demo/i", source="s", expected=1.0, measured=1.0, atol=1e-9, kind="identity")
    fresh_claims.check_test(
        "demo/t",
        source="s",
        pvalue=0.3,
        alpha=0.01,
        expected="v = 1",
        alternative="v = 1.1",
        power=0.85,
        settled_after_data=True,
        settled_note="seed chosen after a first run",
    )
    loaded = fresh_claims.load(tmp_path)
    assert loaded == fresh_claims.records()
    table = fresh_claims.markdown_table(loaded)
    assert "2 predictions, 1 identities, 1 with a setting chosen after seeing data" in table
    preds, idents = table.split("**Identities**")
    assert "`demo/p`" in preds and "`demo/i`" in idents and "`demo/i`" not in preds
    assert "first order" in preds and "| 10 |" in preds and "power 0.85" in preds
    assert "- † `demo/t`: seed chosen after a first run" in table
