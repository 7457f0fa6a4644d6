"""The unbinned fit's Gaussian log-density (scipy) against the Cholesky code it replaced."""

from __future__ import annotations

import numpy as np
import pytest

from gbi.infer.unbinned import _gauss_logpdf


def cholesky_logpdf(z: np.ndarray, mean: np.ndarray, cov: np.ndarray) -> np.ndarray:
    """gbi's earlier hand-written version, kept as the reference."""
    chol = np.linalg.cholesky(cov)
    sol = np.linalg.solve(chol, (z - mean).T)
    return (
        -0.5 * (sol**2).sum(0) - np.log(np.diag(chol)).sum() - 0.5 * z.shape[1] * np.log(2 * np.pi)
    )


@pytest.mark.parametrize("d", [1, 2, 4])
@pytest.mark.parametrize("width", [0.05, 1.0, 3.0])  # the EM clips widths to such a range
def test_equals_the_cholesky_reference(d: int, width: float) -> None:
    rng = np.random.default_rng(d * 10 + int(10 * width))
    z = rng.normal(size=(500, d)) * 2.0
    mean = rng.normal(size=d)
    a = rng.normal(size=(d, d))
    q, _ = np.linalg.qr(a)
    cov = q @ np.diag(width**2 * rng.uniform(0.3, 1.0, d)) @ q.T  # correlated, positive definite
    got = _gauss_logpdf(z, mean, cov)
    assert got.shape == (500,)
    np.testing.assert_allclose(got, cholesky_logpdf(z, mean, cov), rtol=1e-10, atol=1e-10)


def test_one_row() -> None:
    z = np.array([[0.3, -0.2]])
    cov = np.array([[1.0, 0.5], [0.5, 2.0]])
    got = _gauss_logpdf(z, np.zeros(2), cov)
    assert got.shape == (1,)
    np.testing.assert_allclose(got, cholesky_logpdf(z, np.zeros(2), cov), rtol=1e-10)
