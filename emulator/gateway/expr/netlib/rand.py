"""``System.Random`` for expressions (``new Random().Next(1, 10)``, ``new Random(seed)``).

A seeded ``Random`` produces .NET's own sequence: .NET keeps the legacy subtractive generator
(Knuth) for seeded instances ("Net5CompatSeedImpl" in System.Private.CoreLib), reproduced here,
so ``new Random(42).Next(100)`` gives what APIM's gateway gives. An unseeded one is random.
"""

# ruff: noqa: N802  - members carry their .NET names

from __future__ import annotations

import random

from emulator.gateway.expr.netlib.convert import out_of_range_arg
from emulator.gateway.expr.netlib.statics import StaticTable, StaticType
from emulator.gateway.expr.values import NetObject, require_int

_MBIG = 2**31 - 1
_MSEED = 161803398


class _Subtractive:
    """.NET's seeded generator (the Random of .NET Framework, kept for seeded instances)."""

    def __init__(self, seed: int) -> None:
        seeds = [0] * 56
        subtraction = _MBIG if seed == -(2**31) else abs(seed)
        mj = _MSEED - subtraction
        seeds[55] = mj
        mk = 1
        for i in range(1, 55):
            ii = (21 * i) % 55
            seeds[ii] = mk
            mk = mj - mk
            if mk < 0:
                mk += _MBIG
            mj = seeds[ii]
        for _ in range(1, 5):
            for i in range(1, 56):
                seeds[i] -= seeds[1 + (i + 30) % 55]
                if seeds[i] < 0:
                    seeds[i] += _MBIG
        self.seeds = seeds
        self.inext = 0
        self.inextp = 21

    def sample_int(self) -> int:
        inext = self.inext + 1 if self.inext + 1 < 56 else 1
        inextp = self.inextp + 1 if self.inextp + 1 < 56 else 1
        value = self.seeds[inext] - self.seeds[inextp]
        if value == _MBIG:
            value -= 1
        if value < 0:
            value += _MBIG
        self.seeds[inext] = value
        self.inext, self.inextp = inext, inextp
        return value

    def sample(self) -> float:
        return self.sample_int() * (1.0 / _MBIG)

    def large_range_sample(self) -> float:
        result = self.sample_int()
        if self.sample_int() % 2 == 0:
            result = -result
        return (result + (_MBIG - 1)) / (2 * _MBIG - 1)


class RandomObj(NetObject):
    NET_TYPE = "Random"
    NET_METHODS = frozenset({"Next", "NextDouble"})

    def __init__(self, seed: object = None) -> None:
        self.seeded = _Subtractive(require_int(seed, "Seed")) if seed is not None else None
        self.free = random.Random() if seed is None else None

    def _sample(self) -> float:
        return self.seeded.sample() if self.seeded is not None else self.free.random()  # type: ignore[union-attr]

    def m_Next(self, a: object = None, b: object = None) -> int:
        if a is None:
            return self.seeded.sample_int() if self.seeded is not None else self.free.randrange(_MBIG)  # type: ignore[union-attr]
        if b is None:
            high = require_int(a, "maxValue")
            if high < 0:
                raise out_of_range_arg("maxValue")
            return int(self._sample() * high)
        low, high = require_int(a, "minValue"), require_int(b, "maxValue")
        if low > high:
            raise out_of_range_arg("minValue")
        span = high - low
        if span <= _MBIG:
            return int(self._sample() * span) + low
        large = self.seeded.large_range_sample() if self.seeded is not None else self._sample()
        return int(large * span) + low

    def m_NextDouble(self) -> float:
        return self._sample()


STATIC: StaticTable = ((("Random",), StaticType("Random", {}, {}, ctor=RandomObj)),)
