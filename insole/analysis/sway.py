"""Postural sway metrics of a centre-of-pressure (COP) trajectory.

The definitions are the normative ones of docs/science.md ("Quiet standing"). They
are computed on the COP **exactly as given**: no filtering, no resampling, no
trimming happens here, so the numbers can be checked against published tables
computed on the same series. Filtering (docs/science.md *guide*: 4th-order zero-lag
Butterworth at 10 Hz after resampling to a uniform grid) is a separate,
explicit step done before calling :func:`sway_metrics`.

With ``n`` samples at ``fs`` Hz, ``T = n / fs`` and the COP centred on its mean:

========================  =====================================================
key                       definition
========================  =====================================================
``path_length_mm``        ``sum_k |COP[k+1] - COP[k]|`` (2-D Euclidean steps)
``mean_velocity_mm_s``    ``path_length_mm / T``
``rms_ap_mm``             ``sqrt(mean(ap_c**2))`` (population RMS, centred)
``rms_ml_mm``             ``sqrt(mean(ml_c**2))``
``range_ap_mm``           ``max(ap) - min(ap)``
``range_ml_mm``           ``max(ml) - min(ml)``
``ellipse95_area_mm2``    ``pi * F(0.95; 2, n-2) * 2(n-1)(n+1)/(n(n-2)) *
                          sqrt(det S)``, S the 2x2 sample covariance (ddof=1)
``mean_distance_mm``      ``mean(sqrt(ap_c**2 + ml_c**2))``
``mean_frequency_hz``     ``mean_velocity_mm_s / (2 pi mean_distance_mm)``
``median_frequency_*_hz`` frequency below which half of the Welch power of the
                          centred axis lies
``n_samples``             ``n``
``duration_s``            ``T``
========================  =====================================================

The 95 % ellipse is the *prediction* ellipse (Schubert & Kirchner 2014): a new
COP sample from the same (bivariate normal) process falls inside it with
probability 0.95, including the uncertainty of the estimated mean and
covariance (F distribution, not chi-square). It is the same construction as
Marcos Duarte's ``hyperellipsoid`` function (BMC notebooks, MIT licence),
which produced the published sway areas of the BDS balance data set of
Santos & Duarte (2016). The median frequency mirrors Duarte's ``psd``
function (a thin wrapper of :func:`scipy.signal.welch`).

References
----------
Prieto TE, Myklebust JB, Hoffmann RG, Lovett EG, Myklebust BM (1996).
    Measures of postural steadiness: differences between healthy young and
    elderly adults. IEEE Trans Biomed Eng 43(9):956-966.
Schubert P, Kirchner M (2014). Ellipse area calculations and their
    applicability in posturography. Gait Posture 39(1):518-522.
Duarte M, Freitas SMSF (2010). Revision of posturography based on force
    plate for balance evaluation. Rev Bras Fisioter 14(3):183-192; and
    Duarte M, Notebooks for Biomechanics and Motor Control (BMC),
    ``functions/hyperellipsoid.py`` and ``functions/psd.py``.
Santos DA, Duarte M (2016). A public data set of human balance evaluations.
    PeerJ 4:e2648.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from ..errors import InsoleError

__all__ = [
    "MIN_SAMPLES",
    "SWAY_KEYS",
    "ellipse95",
    "romberg_ratios",
    "sway_metrics",
]

#: Fewest samples accepted. The prediction ellipse needs n > 2 (its F
#: distribution has n - 2 degrees of freedom) and a Welch estimate needs a
#: handful of points per segment; 10 is the floor at which every metric is
#: *defined*. It is not a recommendation: quiet-standing sway needs at least
#: 25-30 s (docs/science.md), i.e. thousands of samples at the usual 50-100 Hz.
MIN_SAMPLES = 10

#: The keys of :func:`sway_metrics`, in this order.
SWAY_KEYS = (
    "path_length_mm",
    "mean_velocity_mm_s",
    "rms_ap_mm",
    "rms_ml_mm",
    "range_ap_mm",
    "range_ml_mm",
    "ellipse95_area_mm2",
    "mean_distance_mm",
    "mean_frequency_hz",
    "median_frequency_ap_hz",
    "median_frequency_ml_hz",
    "n_samples",
    "duration_s",
)

#: Probability content of the prediction ellipse.
_ELLIPSE_P = 0.95


# --------------------------------------------------------------------------- #
# validation
# --------------------------------------------------------------------------- #
def _as_series(name: str, x: Any) -> np.ndarray:
    try:
        a = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InsoleError(f"{name} must be a sequence of numbers (mm): {exc}") from None
    if a.ndim != 1:
        raise InsoleError(f"{name} must be one-dimensional (one COP coordinate per sample); got shape {a.shape}")
    return a


def _validate(ap_mm: Any, ml_mm: Any) -> tuple[np.ndarray, np.ndarray]:
    ap = _as_series("ap_mm", ap_mm)
    ml = _as_series("ml_mm", ml_mm)
    if ap.size != ml.size:
        raise InsoleError(
            f"ap_mm and ml_mm must have the same length (one pair per sample); got {ap.size} and {ml.size}")
    if ap.size < MIN_SAMPLES:
        raise InsoleError(
            f"need at least {MIN_SAMPLES} COP samples to compute sway metrics; got {ap.size} "
            "(a quiet-standing phase should last 30 s or more)")
    bad = ~(np.isfinite(ap) & np.isfinite(ml))
    if bad.any():
        first = int(np.argmax(bad))
        raise InsoleError(
            f"the COP contains {int(bad.sum())} missing or non-finite sample(s) (first at index {first}); "
            "sway metrics need a gap-free series: cut the phase around the gap or interpolate it first")
    return ap, ml


def _validate_rate(sampling_rate_hz: Any) -> float:
    try:
        fs = float(sampling_rate_hz)
    except (TypeError, ValueError):
        raise InsoleError(f"sampling_rate_hz must be a number of samples per second; got {sampling_rate_hz!r}") from None
    if not math.isfinite(fs) or fs <= 0:
        raise InsoleError(f"sampling_rate_hz must be a positive number; got {sampling_rate_hz!r}")
    return fs


# --------------------------------------------------------------------------- #
# the 95 % prediction ellipse
# --------------------------------------------------------------------------- #
def _prediction_scale(n: int, p: float = _ELLIPSE_P) -> float:
    """``F(p; 2, n-2) * 2(n-1)(n+1) / (n(n-2))``: squared Mahalanobis radius of
    the bivariate prediction ellipse for a sample of ``n`` points."""
    from scipy.stats import f as f_dist

    return float(f_dist.ppf(p, 2, n - 2) * 2.0 * (n - 1) * (n + 1) / (n * (n - 2)))


def _ellipse(ap: np.ndarray, ml: np.ndarray) -> dict[str, float]:
    """Prediction ellipse of validated arrays; the single source of the area
    reported by :func:`sway_metrics` and of the axes of :func:`ellipse95`."""
    n = ap.size
    c_ap, c_ml = float(ap.mean()), float(ml.mean())
    x = ml - c_ml  # figure abscissa: ML (to the subject's right)
    y = ap - c_ap  # figure ordinate: AP (forward)
    sxx = float(x @ x) / (n - 1)
    syy = float(y @ y) / (n - 1)
    sxy = float(x @ y) / (n - 1)
    # eigen-decomposition of the symmetric 2x2 covariance [[sxx, sxy], [sxy, syy]]
    half_tr = 0.5 * (sxx + syy)
    half_diff = 0.5 * (sxx - syy)
    disc = math.hypot(half_diff, sxy)
    lam_major = half_tr + disc
    # det / lam_major is the accurate form of the small eigenvalue (no cancellation)
    det = max(sxx * syy - sxy * sxy, 0.0)
    lam_minor = det / lam_major if lam_major > 0 else 0.0
    lam_minor = min(max(lam_minor, 0.0), lam_major)
    # direction of the major axis, counter-clockwise from +ML towards +AP
    angle = 0.5 * math.degrees(math.atan2(2.0 * sxy, sxx - syy)) if disc > 0 else 0.0
    if angle <= -90.0:
        angle += 180.0
    elif angle > 90.0:
        angle -= 180.0
    k = _prediction_scale(n)
    a = math.sqrt(k * lam_major)
    b = math.sqrt(k * lam_minor)
    return {
        "center_ap_mm": c_ap,
        "center_ml_mm": c_ml,
        "semi_major_mm": a,
        "semi_minor_mm": b,
        "angle_deg": angle,
        "area_mm2": math.pi * a * b,
        "probability": _ELLIPSE_P,
        "n_samples": n,
    }


def ellipse95(ap_mm: Any, ml_mm: Any) -> dict[str, float]:
    """The 95 % prediction ellipse of a COP trajectory, for drawing it.

    Exactly the ellipse whose area :func:`sway_metrics` reports as
    ``ellipse95_area_mm2`` (``pi * semi_major_mm * semi_minor_mm`` equals it).
    Its squared Mahalanobis radius is ``F(0.95; 2, n-2) * 2(n-1)(n+1)/(n(n-2))``
    with the sample covariance (ddof=1) of (ML, AP): a new sample of the same
    bivariate normal process falls inside with probability 0.95 (Schubert &
    Kirchner 2014; Duarte's ``hyperellipsoid``). Definitions follow docs/science.md.

    Parameters
    ----------
    ap_mm, ml_mm : array_like, shape (n,)
        Anteroposterior (forward +) and mediolateral (to the right +) COP, mm,
        equally long, finite, ``n >= MIN_SAMPLES``.

    Returns
    -------
    dict
        ``center_ap_mm``, ``center_ml_mm`` : float
            Centre (the COP mean), mm.
        ``semi_major_mm``, ``semi_minor_mm`` : float
            Semi-axes, mm (major >= minor >= 0).
        ``angle_deg`` : float
            Direction of the major axis in degrees, in (-90, 90], measured
            counter-clockwise from the +ML axis towards the +AP axis. In a
            figure with ML as abscissa and AP as ordinate,
            ``matplotlib.patches.Ellipse((center_ml_mm, center_ap_mm),
            2 * semi_major_mm, 2 * semi_minor_mm, angle=angle_deg)`` draws it.
        ``area_mm2`` : float
            ``pi * semi_major_mm * semi_minor_mm``, mm^2.
        ``probability`` : float
            0.95.
        ``n_samples`` : int

    Raises
    ------
    insole.errors.InsoleError
        Unequal lengths, fewer than ``MIN_SAMPLES`` samples, or a non-finite
        value.
    """
    ap, ml = _validate(ap_mm, ml_mm)
    return _ellipse(ap, ml)


# --------------------------------------------------------------------------- #
# spectra
# --------------------------------------------------------------------------- #
def _welch_median_frequency(x: np.ndarray, fs: float, *, nperseg: int | None, noverlap: int | None,
                            window: str, detrend: str) -> float:
    """Median power frequency as in Duarte's ``psd``: the first Welch bin at
    which the cumulative (trapezoidal) power reaches 50 % of the total."""
    from scipy.integrate import cumulative_trapezoid
    from scipy.signal import welch

    n = x.size
    seg = int(math.ceil(n / 2)) if nperseg is None else min(int(nperseg), n)
    f, p = welch(x, fs=fs, window=window, nperseg=seg, noverlap=noverlap, detrend=detrend)
    area = cumulative_trapezoid(p, f, initial=0.0)
    total = float(area[-1])
    if not total > 0 or not math.isfinite(total):
        return float("nan")  # an axis that does not move has no spectrum
    return float(f[int(np.argmax(area >= 0.5 * total))])


# --------------------------------------------------------------------------- #
# the metrics
# --------------------------------------------------------------------------- #
def sway_metrics(
    ap_mm: Any,
    ml_mm: Any,
    *,
    sampling_rate_hz: float,
    welch_nperseg: int | None = None,
    welch_noverlap: int | None = None,
    welch_window: str = "hann",
    welch_detrend: str = "constant",
) -> dict[str, float]:
    """Sway metrics of a COP trajectory, computed on the COP exactly as given.

    Definitions follow docs/science.md ("Quiet standing"); with ``n`` samples,
    ``T = n / sampling_rate_hz`` and the COP centred on its mean:
    path length = sum of the 2-D Euclidean steps; mean velocity = path / T;
    population RMS and range per axis; 95 % prediction-ellipse area
    ``pi * F(0.95; 2, n-2) * 2(n-1)(n+1)/(n(n-2)) * sqrt(det S)`` (S the
    sample covariance, ddof=1; Schubert & Kirchner 2014, Duarte's
    ``hyperellipsoid``); mean distance = mean radial distance from the mean
    COP; mean frequency = mean velocity / (2 pi mean distance) (Prieto 1996);
    median frequency per axis from a Welch PSD of the centred axis.

    Nothing is filtered, resampled or trimmed here: pass the phase you want
    measured, already filtered if it should be (docs/science.md: filtering is a
    separate, explicit step). The samples are taken as equally spaced.

    Parameters
    ----------
    ap_mm : array_like, shape (n,)
        Anteroposterior COP, mm (forward positive).
    ml_mm : array_like, shape (n,)
        Mediolateral COP, mm (to the subject's right positive).
    sampling_rate_hz : float
        Samples per second (> 0).
    welch_nperseg : int, optional
        Welch segment length in samples. Default ``ceil(n / 2)``: two
        half-length segments overlapping by 50 % (three periodograms), a
        frequency resolution of ``2 / T`` (1/30 Hz for a 60 s trial). This is
        the default of Duarte's ``psd`` used for the BDS data set; it keeps
        the resolution fine enough for sway, whose power lies below ~1 Hz.
        Values above ``n`` are clipped to ``n``.
    welch_noverlap : int, optional
        Overlap in samples; default ``welch_nperseg // 2`` (scipy's default,
        as in Duarte's ``psd``).
    welch_window : str, default "hann"
        Window (Duarte's ``psd``: Hann).
    welch_detrend : str, default "constant"
        Per-segment detrending passed to :func:`scipy.signal.welch`
        ("constant" removes each segment's mean, as in Duarte's ``psd``).

    Returns
    -------
    dict
        ``path_length_mm`` (mm), ``mean_velocity_mm_s`` (mm/s), ``rms_ap_mm``,
        ``rms_ml_mm``, ``range_ap_mm``, ``range_ml_mm`` (mm),
        ``ellipse95_area_mm2`` (mm^2), ``mean_distance_mm`` (mm),
        ``mean_frequency_hz``, ``median_frequency_ap_hz``,
        ``median_frequency_ml_hz`` (Hz), ``n_samples`` (int), ``duration_s``
        (s). The median frequency is the first Welch bin at which the
        cumulative (trapezoidal) power reaches half of the total, so it is
        quantised to the Welch resolution ``sampling_rate_hz /
        welch_nperseg``. Frequencies that are undefined are NaN: the mean
        frequency when the COP does not move at all, a median frequency when
        the Welch spectrum of that axis has no power (the axis is still
        within the analysed segments). Every other value is finite and
        non-negative.

        Checked against the BDS data set (Santos & Duarte 2016, trial
        BDS00001): the published ellipse area and mean velocity are
        reproduced to ~1e-12 (tests/data/sway/README.md).

    Raises
    ------
    insole.errors.InsoleError
        Arrays of unequal length or not one-dimensional, fewer than
        ``MIN_SAMPLES`` (10) samples, a NaN or infinite value anywhere, a
        non-positive sampling rate, or an invalid Welch option.

    Examples
    --------
    >>> import numpy as np
    >>> t = np.arange(6000) / 100.0
    >>> m = sway_metrics(5 * np.sin(2 * np.pi * 0.5 * t), np.zeros_like(t), sampling_rate_hz=100)
    >>> round(m["median_frequency_ap_hz"], 3), round(m["rms_ap_mm"], 3)
    (0.5, 3.536)
    """
    ap, ml = _validate(ap_mm, ml_mm)
    fs = _validate_rate(sampling_rate_hz)
    if welch_nperseg is not None and (isinstance(welch_nperseg, bool) or int(welch_nperseg) != welch_nperseg
                                      or welch_nperseg < 4):
        raise InsoleError(f"welch_nperseg must be an integer >= 4; got {welch_nperseg!r}")
    if welch_noverlap is not None:
        seg = int(math.ceil(ap.size / 2)) if welch_nperseg is None else min(int(welch_nperseg), ap.size)
        if int(welch_noverlap) != welch_noverlap or not 0 <= welch_noverlap < seg:
            raise InsoleError(f"welch_noverlap must be an integer in [0, nperseg={seg}); got {welch_noverlap!r}")

    n = ap.size
    duration = n / fs
    ap_c = ap - ap.mean()
    ml_c = ml - ml.mean()

    path = float(np.hypot(np.diff(ap), np.diff(ml)).sum())
    velocity = path / duration
    mean_distance = float(np.hypot(ap_c, ml_c).mean())
    mean_frequency = velocity / (2.0 * math.pi * mean_distance) if mean_distance > 0 else float("nan")

    welch_kw = dict(nperseg=welch_nperseg, noverlap=welch_noverlap, window=welch_window, detrend=welch_detrend)
    try:
        mf_ap = _welch_median_frequency(ap_c, fs, **welch_kw)
        mf_ml = _welch_median_frequency(ml_c, fs, **welch_kw)
    except ValueError as exc:  # an unknown window or detrend name
        raise InsoleError(f"invalid Welch option for the median frequency: {exc}") from None

    return {
        "path_length_mm": path,
        "mean_velocity_mm_s": velocity,
        "rms_ap_mm": float(np.sqrt(np.mean(ap_c * ap_c))),
        "rms_ml_mm": float(np.sqrt(np.mean(ml_c * ml_c))),
        "range_ap_mm": float(ap.max() - ap.min()),
        "range_ml_mm": float(ml.max() - ml.min()),
        "ellipse95_area_mm2": _ellipse(ap, ml)["area_mm2"],
        "mean_distance_mm": mean_distance,
        "mean_frequency_hz": mean_frequency,
        "median_frequency_ap_hz": mf_ap,
        "median_frequency_ml_hz": mf_ml,
        "n_samples": n,
        "duration_s": duration,
    }


# --------------------------------------------------------------------------- #
# Romberg
# --------------------------------------------------------------------------- #
def romberg_ratios(eyes_open: Mapping[str, Any], eyes_closed: Mapping[str, Any]) -> dict[str, float | None]:
    """Romberg ratios, eyes closed over eyes open (docs/science.md, quiet standing).

    Parameters
    ----------
    eyes_open, eyes_closed : mapping
        :func:`sway_metrics` results of the two phases (at least the keys
        ``mean_velocity_mm_s`` and ``ellipse95_area_mm2``).

    Returns
    -------
    dict
        ``mean_velocity``: EC / EO of ``mean_velocity_mm_s``;
        ``ellipse95_area``: EC / EO of ``ellipse95_area_mm2``. Dimensionless;
        above 1 means more sway with the eyes closed. ``None`` when the
        eyes-open value is 0 or either value is missing or not finite. The
        ratio depends strongly on the distance of the visual target (about 2
        at 40 cm, about 1 at 2 m; Le & Kapoula 2008): state it with the result.
    """
    out: dict[str, float | None] = {}
    for name, key in (("mean_velocity", "mean_velocity_mm_s"), ("ellipse95_area", "ellipse95_area_mm2")):
        eo, ec = eyes_open.get(key), eyes_closed.get(key)
        try:
            eo_f, ec_f = float(eo), float(ec)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            out[name] = None
            continue
        if not (math.isfinite(eo_f) and math.isfinite(ec_f)) or eo_f == 0.0:
            out[name] = None
        else:
            out[name] = ec_f / eo_f
    return out
