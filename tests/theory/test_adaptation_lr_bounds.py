"""Theorem 2 and Proposition 1/4 of Zou, Liu, Li 2022 (`metagrad.theory.adaptation_lr`) on sampled
instances that satisfy their assumptions (docs/zou2022.md#bounds).

Instances: diagonal Grams G = diag(λ_1..λ_d) (one fixed basis, Theorem 2's extra assumption) whose
eigenvalues are i.i.d. two-point, λ_S with probability p and λ_I otherwise, so the expectation over
training sets is an exact binomial sum and the expectation over the task optima is exact.
"""

import jax.random as jr
import numpy as np
import pytest
from scipy.stats import binom

from metagrad.theory import adaptation_lr as alr


def _rng(getkey):
    return np.random.default_rng(np.asarray(jr.key_data(getkey())).ravel().tolist())


def _moments(lI, lS, p):
    return [p * lS**r + (1 - p) * lI**r for r in (1, 2, 3)]


def _ratio(fS, fI, k, N):
    """Σ_i f_i² / (Σ_i f_i)² when k of the N tasks have f = fS and the others fI."""
    return (k * fS**2 + (N - k) * fI**2) / (k * fS + (N - k) * fI) ** 2


def _exact_gap(alpha, N, K, d, eta, t, lI, lS, p):
    """E_{T_1..T_N}[F_t(w_r) − F_t(w_m(α))], a ~ N(0, I), two-point diagonal spectra (exact).

    Per coordinate w = Σ_i f_i a_i / Σ_i f_i with f = λ (ERM) or λ(1 − 2αλ/K)² (MAML), so
    E_a w² = Σf²/(Σf)²; F_t(w) = E_T[q_T^{2t}](w² + 1) with q = 1 − 2ηλ_T/K; k ~ Bin(N, p).
    """
    k = np.arange(N + 1)
    b = lambda lam: lam * (1 - 2 * alpha * lam / K) ** 2  # noqa: E731
    Eq = p * (1 - 2 * eta * lS / K) ** (2 * t) + (1 - p) * (1 - 2 * eta * lI / K) ** (2 * t)
    gap = _ratio(lS, lI, k, N) - _ratio(b(lS), b(lI), k, N)
    return d * Eq * np.sum(binom.pmf(k, N, p) * gap)


def _instance(rng):
    lS = float(np.exp(rng.uniform(-2, 2)))
    return dict(
        lS=lS,
        lI=lS * float(rng.uniform(0.05, 0.99)),
        p=float(rng.uniform(0.05, 0.95)),
        K=int(rng.integers(1, 60)),
        N=int(rng.integers(2, 120)),
        t=int(rng.integers(0, 500)),
        d=int(rng.integers(1, 20)),
    )


def _bound_and_gap(inst, frac, eta_frac):
    lI, lS, p, K, N, d, t = (inst[k] for k in ("lI", "lS", "p", "K", "N", "d", "t"))
    m1, m2, m3 = _moments(lI, lS, p)
    c = alr.theorem2_c_tilde(E_lam=[m1] * d, E_lam2=[m2] * d, E_lam3=[m3] * d)
    a = frac * alr.theorem2_alpha_max(K=K, lambda_S=lS, lambda_I=lI, c_tilde=c)
    eta = eta_frac * K / (2 * lS)
    bound = alr.theorem2_bound(
        alpha=a, d=d, N=N, K=K, eta=eta, t=t, lambda_S=lS, lambda_I=lI, c_tilde=c
    )
    return float(bound), _exact_gap(a, N, K, d, eta, t, lI, lS, p)


def test_theorem2_bound_holds_on_sampled_instances(getkey):
    """Exact E[F_t(w_r) − F_t(w_m)] >= the printed bound, with the largest admissible c̃."""
    rng = _rng(getkey)
    ratios = []
    for _ in range(300):
        inst = _instance(rng)
        bound, gap = _bound_and_gap(inst, rng.uniform(0.01, 0.999), rng.uniform(0, 0.5))
        assert gap >= bound >= 0
        if bound > 1e-250:  # (1 − 2ηλ_S/K)^{2t} can underflow
            ratios.append(gap / bound)
    assert len(ratios) > 200 and min(ratios) >= 1 - 1e-9, (len(ratios), min(ratios))


def test_theorem2_bound_is_within_a_factor_two_at_its_tightest():
    """Near-deterministic spectra (λ_I ≈ λ_S), N = 2, t = 0, small α: gap/bound ≈ 1.17, so a
    bound twice as large (e.g. 8αdc̃ instead of 4αdc̃) fails; the check has power."""
    inst = dict(lS=1.0, lI=0.9, p=0.5, K=1, N=2, t=0, d=1)
    bound, gap = _bound_and_gap(inst, 0.01, 0.0)
    assert 1 < gap / bound < 2, gap / bound


def test_theorem2_exact_gap_matches_library_risks(getkey):
    """The binomial formula of the test = the library's w_r, w_m(α) and F_t (Def. 1) on one
    training set, with the expectation over the task optima taken over a basis (linearity)."""
    rng = _rng(getkey)
    lI, lS, K, N, d, eta, t = 0.4, 1.3, 6, 5, 3, 0.7, np.array([0, 3, 20])
    lam = np.where(rng.random((N, d)) < 0.5, lS, lI)
    lam[0], lam[1] = lS, lI  # both values present in every coordinate
    Phis = np.zeros((N, K, d))
    Phis[:, np.arange(d), np.arange(d)] = np.sqrt(lam)
    test = np.zeros((2, K, d))
    test[0, np.arange(d), np.arange(d)] = np.sqrt(lS)
    test[1, np.arange(d), np.arange(d)] = np.sqrt(lI)
    alpha = 0.2
    gap_lib = np.zeros(t.size)
    for j in range(N * d):  # E_a[w(a)ᵀ Q w(a)] = Σ over basis vectors a = e_j (a ~ N(0, I))
        a = np.zeros(N * d)
        a[j] = 1.0
        ms = alr.moment_sums(Phis=Phis, a=a.reshape(N, d))
        w_r, w_m = alr.maml_init(moments=ms, alpha=np.array([0.0, alpha]))
        F = [
            alr.post_adaptation_distance_expected(w0=w, Phis=test, eta=eta, t=t, sigma_a2=0.0)
            for w in (w_r, w_m)
        ]
        gap_lib += F[0] - F[1]
    b = lam * (1 - 2 * alpha * lam / K) ** 2
    per_coord = (lam**2).sum(0) / lam.sum(0) ** 2 - (b**2).sum(0) / b.sum(0) ** 2
    Eq = [0.5 * ((1 - 2 * eta * lS / K) ** (2 * s) + (1 - 2 * eta * lI / K) ** (2 * s)) for s in t]
    np.testing.assert_allclose(gap_lib, np.array(Eq) * per_coord.sum(), rtol=1e-9)


def test_theorem2_c_tilde_and_alpha_max():
    m1, m2, m3 = _moments(0.5, 1.0, 0.3)
    c = alr.theorem2_c_tilde(E_lam=[m1, 1.0], E_lam2=[m2, 1.0], E_lam3=[m3, 1.0])
    assert np.isclose(c, (m3 * m1 - m2**2) / 2) and c > 0  # deterministic λ = 1 adds 0
    assert alr.theorem2_alpha_max(K=3, lambda_S=1.0, lambda_I=0.5, c_tilde=0.0) == 0.0
    a = alr.theorem2_alpha_max(K=3, lambda_S=1.0, lambda_I=0.5, c_tilde=c)
    assert 0 < a < alr.theorem2_alpha_max(K=3, lambda_S=1.0, lambda_I=0.5, c_tilde=2 * c)
    with pytest.raises(ValueError, match="alpha"):
        alr.theorem2_bound(
            alpha=a, d=1, N=2, K=3, eta=0.1, t=0, lambda_S=1.0, lambda_I=0.5, c_tilde=c
        )
    with pytest.raises(ValueError, match="lambda_I"):
        alr.theorem2_alpha_max(K=3, lambda_S=1.0, lambda_I=2.0, c_tilde=c)


def _rot(rng, d):
    return np.linalg.qr(rng.normal(size=(d, d)))[0]


@pytest.mark.parametrize("alpha", [0.0, 0.15])
def test_prop4_operator_bounds_on_sampled_instances(getkey, alpha):
    """(C.14)–(C.17): ‖A‖ <= ε/N² and ‖Ã‖_HS² <= dε²/N², A = W⁻¹ E[CᵀC] W⁻¹, W = Σ C_iᵀC_i, for
    Grams with eigenvalues in [λ_I, λ_S] in random bases; equality at α = 0 when every training
    eigenvalue is λ_I and E[CᵀC] = λ_S I (so a wrong ε is caught)."""
    rng = _rng(getkey)
    lI, lS, K, N, d = 0.6, 1.0, 8, 7, 4
    eps = float(alr.prop4_epsilon(alpha=alpha, K=K, lambda_S=lS, lambda_I=lI))
    b = lambda lam: lam * (1 - 2 * alpha * lam / K) ** 2  # noqa: E731
    for _ in range(50):
        W = sum(U * b(rng.uniform(lI, lS, d)) @ U.T for U in (_rot(rng, d) for _ in range(N)))
        U = _rot(rng, d)
        M = U * b(rng.uniform(lI, lS, d)) @ U.T
        Wi = np.linalg.inv(W)
        A = Wi @ M @ Wi
        assert np.linalg.norm(A, 2) <= eps / N**2 * (1 + 1e-12)
        assert N**2 * np.sum(A**2) <= d * eps**2 / N**2 * (1 + 1e-12)  # ‖Ã‖_HS² = N²‖A‖_F²
    if alpha == 0.0:
        A = (N * lI) ** -2 * lS * np.eye(d)
        assert np.isclose(np.linalg.norm(A, 2), eps / N**2, rtol=1e-12)


def test_prop4_bound_holds_for_gaussian_task_optima(getkey):
    """|L_m − L̄_m| over a_i ~ N(0, I) (features fixed) exceeds the corrected bound with the
    Gaussian Hanson–Wright constant c = 1/(4π²) [derived, docs/zou2022.md#bounds] in at most a
    fraction δ of draws (+3 SE). L = √(2/π) max b (the paper's ψ₂ norm of N(0, b²))."""
    rng = _rng(getkey)
    lI, lS, p, K, N, d, alpha, delta = 0.5, 1.0, 0.5, 8, 20, 6, 0.3, 0.1
    lam = np.where(rng.random((N, d)) < p, lS, lI)
    b = lam * (1 - 2 * alpha * lam / K) ** 2
    Eb = p * lS * (1 - 2 * alpha * lS / K) ** 2 + (1 - p) * lI * (1 - 2 * alpha * lI / K) ** 2
    R = (b**2).sum(0) / b.sum(0) ** 2
    # L̄_m(α | features) from the library = (1/K) Σ_k Eb (R_k + 1)
    Phis = np.zeros((N, K, d))
    Phis[:, np.arange(d), np.arange(d)] = np.sqrt(lam)
    EG, EG2, EG3 = (np.eye(d) * m for m in _moments(lI, lS, p))
    lbar = alr.conditional_risk(alpha=alpha, Phis=Phis, EG=EG, EG2=EG2, EG3=EG3)
    assert np.isclose(lbar, (Eb * (R + 1)).sum() / K, rtol=1e-10)
    n = 40_000
    a = rng.normal(size=(n, N, d))
    w = (b * a).sum(1) / b.sum(0)  # w_m(α) per draw of the task optima
    dev = Eb * (w**2 - R).sum(1) / K  # L_m(w_m) − L̄_m
    assert abs(dev.mean()) <= 5 * dev.std() / np.sqrt(n)
    bound = alr.prop4_bound(
        alpha=alpha, N=N, K=K, d=d, L=np.sqrt(2 / np.pi) * b.max(), delta=delta,
        lambda_S=lS, lambda_I=lI, c=1 / (4 * np.pi**2),
    )  # fmt: skip
    frac = np.mean(np.abs(dev) > bound)
    assert frac <= delta + 3 * np.sqrt(delta * (1 - delta) / n), frac


def test_prop4_forms_and_alpha_set():
    kw = dict(N=10, K=4, d=9, L=1.3, delta=0.05, lambda_S=1.0, lambda_I=0.7)
    a1, a2 = alr.prop4_alpha_set(K=4, lambda_S=1.0, lambda_I=0.7)
    assert 0 < a1 < a2
    lo = lambda a: 0.7 - 4 * a * 1.0 / 4 + 4 * a**2 * 0.7**3 / 16  # noqa: E731
    assert abs(lo(a1)) < 1e-12 and abs(lo(a2)) < 1e-12
    assert np.isinf(alr.prop4_bound(alpha=(a1 + a2) / 2, c=1.0, **kw))
    # printed = corrected (c = 1) exactly where ε = 1; they differ by √ε on the root term
    eps = float(alr.prop4_epsilon(alpha=0.0, K=4, lambda_S=1.0, lambda_I=0.7))
    pr = alr.prop4_bound(alpha=0.0, c=1.0, form="printed", **kw)
    co = alr.prop4_bound(alpha=0.0, c=1.0, **kw)
    root = 1.3**2 / 4 * np.sqrt(9 * np.log(2 / 0.05)) / 10
    assert np.isclose(pr, root * np.sqrt(eps)) and np.isclose(co, root * eps)
    with pytest.raises(ValueError, match="delta"):
        alr.prop4_bound(alpha=0.0, c=1.0, **{**kw, "delta": 1.0})
