"""Random durations for the simulator: talk, wrap-up, ring, patience, detection delay.

Every distribution is a frozen value, parameterised the way a scenario file writes it
(see ``shared/SCENARIOS.md``), and draws only from a ``numpy.random.Generator`` it is
handed, so the same seed gives the same simulation, bit for bit.

Invariants: parameters are validated on construction (``ValueError``; the scenario
loader turns that into a ``ConfigError`` naming the file and key), ``mean`` is the
mean of the distribution itself, and samples are never negative: a duration below zero
would schedule an event in the past.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from dialer.errors import ConfigError

FloatArray = npt.NDArray[np.float64]


# Below this coefficient of variation (sd/mean) a gamma is drawn as its mean: shape =
# 1/cv^2 would overflow, and the draws would equal the mean to float precision anyway.
_DEGENERATE_CV = 1e-9


def _check_finite(name: str, value: float) -> None:
    if not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")


def _check_positive(name: str, value: float) -> None:
    _check_finite(name, value)
    if value <= 0:
        raise ValueError(f"{name} must be > 0, got {value!r}")


def _check_non_negative(name: str, value: float) -> None:
    _check_finite(name, value)
    if value < 0:
        raise ValueError(f"{name} must be >= 0, got {value!r}")


@dataclass(frozen=True, slots=True)
class Constant:
    """Always ``value`` seconds (>= 0; zero is allowed: "no delay")."""

    value: float

    def __post_init__(self) -> None:
        _check_non_negative("value", self.value)

    @property
    def mean(self) -> float:
        return float(self.value)

    def sample(self, rng: np.random.Generator) -> float:
        # Draws nothing: a constant must not shift the generator's stream.
        return float(self.value)

    def sample_many(self, rng: np.random.Generator, n: int) -> FloatArray:
        return np.full(n, float(self.value), dtype=np.float64)


@dataclass(frozen=True, slots=True)
class LogNormal:
    """Log-normal with the given ``mean`` (> 0) and ``sd`` (>= 0) of the durations, in seconds.

    These are the moments of the distribution itself, as call-centre reports state
    them, not of the underlying normal. Moment matching (e.g. Johnson, Kotz &
    Balakrishnan, *Continuous Univariate Distributions* vol. 1, ch. 14):
    ``sigma^2 = ln(1 + sd^2/mean^2)``, ``mu = ln(mean) - sigma^2/2``.
    ``sd == 0`` degenerates to the constant ``mean``.
    """

    mean: float
    sd: float
    # Derived once here rather than per draw: the simulator samples millions of times.
    _mu: float = field(init=False, repr=False, compare=False)
    _sigma: float = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        _check_positive("mean", self.mean)
        _check_non_negative("sd", self.sd)
        cv = self.sd / self.mean
        # cv * cv, not cv ** 2: a float power raises OverflowError where a product gives inf.
        sigma2 = math.log1p(cv * cv)
        if not math.isfinite(sigma2):
            raise ValueError(f"sd/mean is too large to represent, got sd={self.sd!r}")
        object.__setattr__(self, "_sigma", math.sqrt(sigma2))
        object.__setattr__(self, "_mu", math.log(self.mean) - sigma2 / 2)

    def sample(self, rng: np.random.Generator) -> float:
        if self.sd == 0:
            return float(self.mean)
        return float(rng.lognormal(self._mu, self._sigma))

    def sample_many(self, rng: np.random.Generator, n: int) -> FloatArray:
        if self.sd == 0:
            return np.full(n, float(self.mean), dtype=np.float64)
        return rng.lognormal(self._mu, self._sigma, size=n).astype(np.float64, copy=False)


@dataclass(frozen=True, slots=True)
class Exponential:
    """Exponential with the given ``mean`` (> 0), in seconds; memoryless waits."""

    mean: float

    def __post_init__(self) -> None:
        _check_positive("mean", self.mean)

    def sample(self, rng: np.random.Generator) -> float:
        return float(rng.exponential(self.mean))

    def sample_many(self, rng: np.random.Generator, n: int) -> FloatArray:
        return rng.exponential(self.mean, size=n).astype(np.float64, copy=False)


@dataclass(frozen=True, slots=True)
class Uniform:
    """Uniform on ``[low, high)`` seconds, ``0 <= low <= high`` (``low == high`` is constant)."""

    low: float
    high: float

    def __post_init__(self) -> None:
        # low >= 0 is what keeps the samples non-negative.
        _check_non_negative("low", self.low)
        _check_non_negative("high", self.high)
        if self.low > self.high:
            raise ValueError(f"low must be <= high, got low={self.low!r} > high={self.high!r}")

    @property
    def mean(self) -> float:
        return (self.low + self.high) / 2

    def sample(self, rng: np.random.Generator) -> float:
        return float(rng.uniform(self.low, self.high))

    def sample_many(self, rng: np.random.Generator, n: int) -> FloatArray:
        return rng.uniform(self.low, self.high, size=n).astype(np.float64, copy=False)


@dataclass(frozen=True, slots=True)
class Gamma:
    """Gamma with the given ``mean`` (> 0) and ``sd`` (>= 0), in seconds.

    Method of moments: ``shape = (mean/sd)^2``, ``scale = sd^2/mean`` (so that
    ``shape*scale = mean`` and ``shape*scale^2 = sd^2``). ``sd == 0`` (or sd/mean below
    1e-9) is the constant ``mean``.
    """

    mean: float
    sd: float
    _shape: float = field(init=False, repr=False, compare=False)
    _scale: float = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        _check_positive("mean", self.mean)
        _check_non_negative("sd", self.sd)
        cv = self.sd / self.mean
        if cv < _DEGENERATE_CV:
            # _scale == 0 marks the constant case for the samplers.
            object.__setattr__(self, "_shape", math.inf)
            object.__setattr__(self, "_scale", 0.0)
            return
        shape, scale = 1 / (cv * cv), self.sd * cv
        if not (shape > 0 and math.isfinite(scale)):
            raise ValueError(f"sd/mean is too large to represent, got sd={self.sd!r}")
        object.__setattr__(self, "_shape", shape)
        object.__setattr__(self, "_scale", scale)

    def sample(self, rng: np.random.Generator) -> float:
        if self._scale == 0:
            return float(self.mean)
        return float(rng.gamma(self._shape, self._scale))

    def sample_many(self, rng: np.random.Generator, n: int) -> FloatArray:
        if self._scale == 0:
            return np.full(n, float(self.mean), dtype=np.float64)
        return rng.gamma(self._shape, self._scale, size=n).astype(np.float64, copy=False)


Distribution = Constant | LogNormal | Exponential | Uniform | Gamma

# The scenario format's names and, in order, each one's parameters (SCENARIOS.md).
_PARAMETERS: dict[str, tuple[str, ...]] = {
    "constant": ("value",),
    "lognormal": ("mean", "sd"),
    "exponential": ("mean",),
    "uniform": ("low", "high"),
    "gamma": ("mean", "sd"),
}
_KINDS = ", ".join(_PARAMETERS)
_EXAMPLE = '{ dist = "lognormal", mean = 150, sd = 90 }'


def _build(kind: str, p: Mapping[str, float]) -> Distribution:
    if kind == "constant":
        return Constant(p["value"])
    if kind == "lognormal":
        return LogNormal(p["mean"], p["sd"])
    if kind == "exponential":
        return Exponential(p["mean"])
    if kind == "uniform":
        return Uniform(p["low"], p["high"])
    return Gamma(p["mean"], p["sd"])


def parse_distribution(value: object, *, source: str, key: str) -> Distribution:
    """Validate an inline distribution table: ``{ dist = "gamma", mean = 140, sd = 80 }``.

    ``source`` is the file and ``key`` the dotted path (``agents.talk``) reported by the
    ``ConfigError`` raised for anything wrong: not a table, unknown ``dist``, a missing or
    extra parameter, a parameter that is not a finite number (``true`` is not a number,
    whatever Python thinks), or a value out of range (mean <= 0, sd < 0, low > high).
    """
    if not isinstance(value, Mapping):
        raise ConfigError(source, key, f"expected a distribution table like {_EXAMPLE}")
    kind = value.get("dist")
    if not isinstance(kind, str) or kind not in _PARAMETERS:
        got = "missing" if kind is None else repr(kind)
        raise ConfigError(source, key, f"dist is {got}; expected one of {_KINDS}")
    expected = _PARAMETERS[kind]
    wanted = ", ".join(expected)
    for name in value:
        if name != "dist" and name not in expected:
            raise ConfigError(
                source, key, f"unexpected parameter {name!r} for {kind}; expected {wanted}"
            )
    params: dict[str, float] = {}
    for name in expected:
        if name not in value:
            raise ConfigError(
                source, key, f"missing parameter {name!r} for {kind}; expected {wanted}"
            )
        raw = value[name]
        if isinstance(raw, bool) or not isinstance(raw, int | float):
            raise ConfigError(source, key, f"{name} must be a number (seconds), got {raw!r}")
        params[name] = float(raw)
    try:
        return _build(kind, params)
    except ValueError as exc:
        raise ConfigError(source, key, f"{kind}: {exc}") from exc
