"""Asymmetry indices with confidence (docs/science.md, "Asymmetry").

- Symmetry index (Robinson 1987): ``SI = 100 (X_R - X_L) / (0.5 (X_R + X_L))``
- Symmetry angle (Zifchock 2008): ``SA = 100 (45 deg - atan(X_L / X_R)) / 90 deg``

Both are positive when the RIGHT side is larger. Confidence: left and right
steps are bootstrapped independently (percentile intervals). A side is called
favoured for a metric when the whole interval of its SA lies beyond a bound:
in running twice the typical value of healthy runners (Girard et al. 2019);
in walking the edge of the healthy walkers' 95 % range
(:data:`WALK_LIMIT_SI_PCT`). "Favoured" names the side with the larger value
(more time on it, more force through it).

Walking references (kept apart from running's; SI = 200 (r - 1) / (r + 1)
for a ratio r = larger / smaller):

- Stance (contact) and swing time: Patterson et al. 2010 (Gait Posture
  31:241-246) and 2008 (Arch Phys Med Rehabil 89:304-310) call gait
  temporally asymmetric beyond the 95 % range of healthy controls, quoted as
  symmetry ratios of 1.05 for stance time and 1.06 for swing time: SI 4.9 %
  and 5.8 %. (The ratios are the values the follow-up literature quotes; the
  tables were not re-read for this module.)
- Step time: no separate limit; it is reported, not used for the verdict.
- Vertical force peaks, impulse: Herzog et al. 1989 (Med Sci Sports Exerc
  21:110-114) give 95 % limits of the SI of 62 healthy walkers on a force
  platform for 34 variables, from +-4 % for the most symmetric to far more
  for variables near zero; the classic 10 % SI cut-off comes from that
  work (Sadeghi et al. 2000, Gait Posture 12:34-45, review symmetry and limb
  dominance in able-bodied gait). *guide*: 10 % SI for peak force and
  impulse, 15 % for loading rate. These force bounds are used only when the
  insoles' gains were matched (see ``insole.analysis.gait``).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from .stats import percentile_ci

__all__ = ["symmetry_index", "symmetry_angle", "TYPICAL_SA_PCT", "TYPICAL_WALK_SA_PCT", "WALK_LIMIT_SI_PCT",
           "LOAD_METRICS", "MetricAsymmetry", "metric_asymmetry", "bootstrap_means", "ratio_to_si_pct", "si_to_sa_pct",
           "sa_to_si_pct"]

#: typical symmetry angles of healthy runners, % (Girard et al. 2019); impulse
#: has no published value there and takes peak force's (*guide*)
TYPICAL_SA_PCT = {"contact_time": 0.6, "flight_time": 1.7, "peak_force": 3.2, "impulse": 3.2, "loading_rate": 5.3}
#: metrics where a larger value means more load on that side, so the larger
#: side is the favoured one; flight time (the air time after a foot's
#: push-off) has a side that is longer, not a side that is favoured
LOAD_METRICS = ("contact_time", "peak_force", "impulse", "loading_rate")



def symmetry_index(left: Any, right: Any) -> Any:
    """``100 (R - L) / (0.5 (R + L))``, %; positive = right larger."""
    left, right = np.asarray(left, dtype=np.float64), np.asarray(right, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return 100.0 * (right - left) / (0.5 * (right + left))


def symmetry_angle(left: Any, right: Any) -> Any:
    """``100 (45 - atan(L / R) in degrees) / 90``, %; positive = right larger.

    Bounded to [-50, 50] for positive values, no reference limb, and about
    SI / pi for small asymmetry."""
    left, right = np.asarray(left, dtype=np.float64), np.asarray(right, dtype=np.float64)
    return 100.0 * (45.0 - np.degrees(np.arctan2(left, right))) / 90.0



def ratio_to_si_pct(ratio: float) -> float:
    """SI, %, of a symmetry ratio ``r = larger / smaller``: ``200 (r - 1) / (r + 1)``."""
    return 200.0 * (ratio - 1.0) / (ratio + 1.0)


def si_to_sa_pct(si_pct: float) -> float:
    """The SA, %, of the same pair of values as an SI, % (signs kept)."""
    r = (200.0 + si_pct) / (200.0 - si_pct)  # R / L
    return float(symmetry_angle(1.0, r))


def sa_to_si_pct(sa_pct: float) -> float:
    """The SI, %, of the same pair of values as an SA, % (signs kept)."""
    t = np.tan(np.radians(45.0 - 0.9 * sa_pct))  # L / R
    return float(200.0 * (1.0 - t) / (1.0 + t))


#: edge of the healthy walkers' 95 % range as an SI, % (module docstring):
#: beyond it, with the whole interval, a side is favoured in walking
WALK_LIMIT_SI_PCT = {"contact_time": ratio_to_si_pct(1.05), "swing_time": ratio_to_si_pct(1.06),
                     "peak_force": 10.0, "impulse": 10.0, "loading_rate": 15.0}
#: the same as half the bound in SA, % (the "typical" value under the
#: runners' rule "beyond twice typical"), kept for callers of the old name
TYPICAL_WALK_SA_PCT = {k: si_to_sa_pct(v) / 2.0 for k, v in WALK_LIMIT_SI_PCT.items()}


def bootstrap_means(values: np.ndarray, *, n_boot: int, rng: np.random.Generator, batch: int = 128) -> np.ndarray:
    """Column means of ``n_boot`` resamples (with replacement) of the rows of
    ``values``: the steps are resampled, and all the step's metrics with them.

    Each batch of replicates draws its row indices once, turns them into
    counts per row (``bincount``) and takes the means as one matrix product.

    Parameters
    ----------
    values : numpy.ndarray
        ``(n,)`` or ``(n, k)``, NaN-free.

    Returns
    -------
    numpy.ndarray
        ``(n_boot,)`` or ``(n_boot, k)``.
    """
    x = np.asarray(values, dtype=np.float64)
    flat = x.ndim == 1
    x2 = x[:, None] if flat else x
    n = x2.shape[0]
    out = np.empty((n_boot, x2.shape[1]))
    for lo in range(0, n_boot, batch):
        b = min(batch, n_boot - lo)
        idx = rng.integers(0, n, size=(b, n), dtype=np.int64)
        idx += (np.arange(b) * n)[:, None]
        counts = np.bincount(idx.ravel(), minlength=b * n).reshape(b, n)
        out[lo:lo + b] = (counts @ x2) / n
    return out[:, 0] if flat else out


class FavouredAlias:
    """The old spelling of :attr:`favoured_side`, kept for a while (deprecated)."""

    @property
    def favored_side(self) -> str:
        """Deprecated: use ``favoured_side``."""
        warnings.warn("favored_side is deprecated; use favoured_side", DeprecationWarning, stacklevel=2)
        return self.favoured_side  # type: ignore[attr-defined]


@dataclass(frozen=True)
class MetricAsymmetry(FavouredAlias):
    """One metric's asymmetry between the feet."""

    metric: str
    left_mean: float
    right_mean: float
    n_left: int
    n_right: int
    si_pct: float | None
    sa_pct: float | None
    ci95_si_pct: tuple[float, float] | None
    ci95_sa_pct: tuple[float, float] | None
    typical_sa_pct: float | None
    favoured_side: str
    note: str = ""
    beyond_typical: bool = False
    used_for_verdict: bool = True
    why_not_used: str = ""
    #: the SI beyond which (whole interval) a side is favoured, %
    bound_si_pct: float | None = None
    #: where the bound comes from, in words
    reference: str = ""

    def to_dict(self) -> dict[str, Any]:
        """The JSON entry; ``note`` joins the metric's note and, when it is not
        used for the verdict, the reason."""
        return {
            "si_pct": self.si_pct, "sa_pct": self.sa_pct,
            "ci95_si_pct": list(self.ci95_si_pct) if self.ci95_si_pct else None,
            "ci95_sa_pct": list(self.ci95_sa_pct) if self.ci95_sa_pct else None,
            "left_mean": self.left_mean, "right_mean": self.right_mean,
            "n_left": self.n_left, "n_right": self.n_right,
            "typical_sa_pct": self.typical_sa_pct, "beyond_typical": self.beyond_typical,
            "favored_side": self.favoured_side, "used_for_verdict": self.used_for_verdict,
            "favour_bound_si_pct": self.bound_si_pct, "reference": self.reference,
            "note": "; ".join(x for x in (self.note, "" if self.used_for_verdict else self.why_not_used) if x),
        }


#: how a timing metric's longer side is named
_LONGER = {"flight_time": "longer after the {side} foot's push-off", "swing_time": "longer on the {side} foot"}


def metric_asymmetry(metric: str, left: np.ndarray, right: np.ndarray, *, n_boot: int, rng: np.random.Generator,
                     favour_factor: float = 2.0, min_steps: int = 5,
                     typical_sa_pct: float | None = None, limit_si_pct: float | None = None,
                     reference: str = "") -> MetricAsymmetry:
    """SI and SA of the per-side means with bootstrap intervals and a verdict.

    Parameters
    ----------
    metric : str
        Key of :data:`TYPICAL_SA_PCT` (others get no verdict).
    left, right : numpy.ndarray
        Per-step values of each side (NaNs are dropped).
    favour_factor : float
        A side is favoured when the SA interval lies beyond this many times
        the typical SA.
    typical_sa_pct : float, optional
        The typical SA, %, when it is not the runners' value in
        :data:`TYPICAL_SA_PCT` (e.g. :data:`TYPICAL_WALK_SA_PCT`).
    limit_si_pct : float, optional
        The bound as an SI, % (e.g. :data:`WALK_LIMIT_SI_PCT`): a side is
        favoured when the whole interval lies beyond it. Overrides
        ``favour_factor * typical``.
    reference : str
        Where the bound comes from (kept on the result).
    """
    left = np.asarray(left, dtype=np.float64)
    right = np.asarray(right, dtype=np.float64)
    left, right = left[np.isfinite(left)], right[np.isfinite(right)]
    typical = typical_sa_pct if typical_sa_pct is not None else TYPICAL_SA_PCT.get(metric)
    if limit_si_pct is not None:
        typical = si_to_sa_pct(limit_si_pct) / favour_factor
    bound_si = sa_to_si_pct(favour_factor * typical) if typical is not None else None
    lm = float(left.mean()) if left.size else float("nan")
    rm = float(right.mean()) if right.size else float("nan")
    if left.size < min_steps or right.size < min_steps:
        return MetricAsymmetry(metric, lm, rm, left.size, right.size, None, None, None, None, typical, "none",
                               f"fewer than {min_steps} steps on a side", bound_si_pct=bound_si, reference=reference)
    if lm <= 0 or rm <= 0:
        # indices of signed quantities (walking's flight time is negative) mean nothing
        return MetricAsymmetry(metric, lm, rm, left.size, right.size, None, None, None, None, typical, "none",
                               "not defined: the values are not all positive", bound_si_pct=bound_si,
                               reference=reference)
    bl = bootstrap_means(left, n_boot=n_boot, rng=rng)
    br = bootstrap_means(right, n_boot=n_boot, rng=rng)
    si, sa = float(symmetry_index(lm, rm)), float(symmetry_angle(lm, rm))
    ci_si = percentile_ci(symmetry_index(bl, br))
    ci_sa = percentile_ci(symmetry_angle(bl, br))
    larger = "none"
    if typical is not None:
        bound = favour_factor * typical
        if ci_sa[0] > bound:
            larger = "right"
        elif ci_sa[1] < -bound:
            larger = "left"
    side = larger if metric in LOAD_METRICS else "none"
    note = "" if metric in LOAD_METRICS or larger == "none" else _LONGER.get(metric, "longer on the {side}").format(
        side=larger)
    return MetricAsymmetry(metric, lm, rm, left.size, right.size, si, sa, ci_si, ci_sa, typical, side, note,
                           beyond_typical=larger != "none", bound_si_pct=bound_si, reference=reference)
