import numpy as np
import pytest
from scipy.optimize import check_grad

from crm_core.analytics.bgnbd import bgnbd_summary
from crm_core.analytics.mbgnbd import (
    MbgNbdParams,
    _negative_mean_log_likelihood,
    _Rows,
    fit_mbgnbd,
    p_alive,
    p_purchase_within,
)
from tests.crm_core.analytics.analytics_frames import CDNOW_CALIBRATION_END, cdnow_purchases

# lifetimes 0.11.3's ModifiedBetaGeoFitter on the same CDNOW summary (days).
LIFETIMES = {"r": 0.524843, "alpha": 43.28157, "a": 0.891360, "b": 1.614003}


def test_the_cdnow_fit_matches_lifetimes() -> None:
    fit = fit_mbgnbd(bgnbd_summary(cdnow_purchases(), CDNOW_CALIBRATION_END))

    assert fit is not None and fit.converged
    for name, value in LIFETIMES.items():
        assert getattr(fit.params, name) == pytest.approx(value, rel=1e-4)


def test_the_gradient_is_the_likelihoods() -> None:
    summary = bgnbd_summary(cdnow_purchases(), CDNOW_CALIBRATION_END)
    rows = _Rows.of(summary["x"].to_numpy(), summary["t_x"].to_numpy() / 30, summary["T"].to_numpy() / 30)

    error = check_grad(
        lambda p: _negative_mean_log_likelihood(p, rows)[0],
        lambda p: _negative_mean_log_likelihood(p, rows)[1],
        np.array([0.1, -0.3, 0.2, 0.5]),
    )

    assert error < 1e-5


def test_one_time_buyers_may_have_left_and_silence_lowers_the_chance_of_a_return() -> None:
    params = MbgNbdParams(**LIFETIMES)

    alive = p_alive(params, [0, 0], [0, 0], [30, 200])
    chance = p_purchase_within(params, 90, [3, 3, 3], [100, 100, 100], [110, 200, 300])

    assert alive[0] < 1 and alive[1] < alive[0]
    assert chance[0] > chance[1] > chance[2] > 0
    assert np.all(chance < p_alive(params, [3, 3, 3], [100, 100, 100], [110, 200, 300]))
