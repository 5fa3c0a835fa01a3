"""A claim over a study's arms and its verdict, computed from the numbers only (pure functions).

    [[claims]]
    text = "no position embedding is clearly worse"
    metric = "best_top1"                 # see `METRICS`
    left = "none"                        # an arm, a number, min/max/mean(arm, ...), untrained(arm), joined by + or -
    op = "<"                             # '>' left exceeds right, '<' left falls below right, '~' they agree
    right = "min(learned, learned_2d, sincos_2d)"
    margin = 1.0                         # '>'/'<': by at least this much; '~': within this much

Each arm counts as the mean of its seeds' values. `gap` is how far the result clears the claim: for '>'
(left - right) - margin, for '<' (right - left) - margin, for '~' margin - |left - right|. `spread` is the
largest standard deviation across seeds of an arm the claim reads. The verdict is 'inconclusive' when the
seeds' spread is larger than the gap either way (|gap| < spread: the margin lies within the noise), else
'held' when gap >= 0 and 'did not hold' when gap < 0. An arm without results makes it 'no result'.
"""

from __future__ import annotations

import re
import statistics
from dataclasses import dataclass

#: metric name -> what it is, for reports.
METRICS = {
    "best_top1": "best validation top-1 (%)",
    "final_top1": "final validation top-1 (%)",
    "best_val_loss": "best validation loss",
    "rowcol": "row/column structure of the position-embedding similarity (same row or column minus others)",
    "distance_slope": "slope of mean attention distance against depth (pixels per block)",
}
ANALYSIS_METRICS = ("rowcol", "distance_slope")
OPS = (">", "<", "~")
FUNCTIONS = ("min", "max", "mean", "untrained")
HELD, NOT_HELD, INCONCLUSIVE, NO_RESULT = "held", "did not hold", "inconclusive", "no result"

_TOKEN = re.compile(r"\s*(?:(?P<num>\d+(?:\.\d*)?|\.\d+)|(?P<name>[A-Za-z_][A-Za-z0-9_]*)|(?P<sym>[-+(),]))")


@dataclass(frozen=True)
class Term:
    """One term of an expression: `sign * value`, the value a number, an arm, or a function of arms."""

    sign: float
    number: float | None = None
    function: str | None = None  # None: the one arm in `arms`
    arms: tuple[str, ...] = ()

    def result_keys(self) -> tuple[str, ...]:
        """The result keys it reads: arm names, or "untrained(arm)"."""
        return tuple(f"untrained({a})" for a in self.arms) if self.function == "untrained" else self.arms


@dataclass(frozen=True)
class Claim:
    text: str
    metric: str
    left: tuple[Term, ...]
    op: str
    right: tuple[Term, ...]
    margin: float
    left_text: str = ""
    right_text: str = ""

    @property
    def arms(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(a for t in (*self.left, *self.right) for a in t.arms))

    @property
    def result_keys(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(k for t in (*self.left, *self.right) for k in t.result_keys()))

    def describe(self) -> str:
        relation = {">": "exceeds", "<": "falls below", "~": "agrees with"}[self.op]
        how = "within" if self.op == "~" else "by at least"
        return f"{self.left_text} {relation} {self.right_text} {how} {self.margin:g} ({self.metric})"


@dataclass(frozen=True)
class Verdict:
    outcome: str  # HELD, NOT_HELD, INCONCLUSIVE or NO_RESULT
    left: float | None = None
    right: float | None = None
    gap: float | None = None
    spread: float | None = None
    missing: tuple[str, ...] = ()

    def line(self) -> str:
        if self.outcome == NO_RESULT:
            return f"{NO_RESULT}: no finished run for {', '.join(self.missing)}"
        return (
            f"{self.outcome}: {self.left:.3g} vs {self.right:.3g}, clears the claim by {self.gap:+.3g} "
            f"with a seed spread of {self.spread:.3g}"
        )


def parse_claim(table: dict) -> Claim:
    """A claim from its TOML table; ValueError says what is wrong."""
    if not isinstance(table, dict):
        raise ValueError(f"expected a table, got {table!r}")
    unknown = set(table) - {"text", "metric", "left", "op", "right", "margin"}
    if unknown:
        raise ValueError(f"unknown key(s) {', '.join(sorted(unknown))}")
    metric, op = table.get("metric"), table.get("op")
    if metric not in METRICS:
        raise ValueError(f"metric {metric!r} is not one of {', '.join(METRICS)}")
    if op not in OPS:
        raise ValueError(f"op {op!r} is not one of {', '.join(OPS)}")
    margin = table.get("margin", 0.0)
    if isinstance(margin, bool) or not isinstance(margin, (int, float)) or margin < 0:
        raise ValueError(f"margin must be a number >= 0, got {margin!r}")
    left, right = str(table.get("left", "")), str(table.get("right", ""))
    return Claim(str(table.get("text", "")), metric, parse_expression(left), op, parse_expression(right),
                 float(margin), left.strip(), right.strip())  # fmt: skip


def parse_expression(text: str) -> tuple[Term, ...]:
    """`none`, `0`, `max(a, b) - min(a, b)`, `untrained(vit)`: terms joined by + and -."""
    tokens, pos = [], 0
    while pos < len(text.rstrip()):
        m = _TOKEN.match(text, pos)
        if not m:
            raise ValueError(f"cannot read {text!r} at {text[pos:]!r}")
        tokens.append((m.lastgroup, m.group(m.lastgroup)))
        pos = m.end()
    if not tokens:
        raise ValueError("an expression is empty")
    terms, i, sign = [], 0, 1.0
    while True:
        if i < len(tokens) and tokens[i] in (("sym", "-"), ("sym", "+")):
            sign, i = (-1.0 if tokens[i][1] == "-" else 1.0), i + 1
        if i >= len(tokens):
            raise ValueError(f"{text!r} ends where a term should be")
        kind, value = tokens[i]
        if kind == "num":
            terms.append(Term(sign, number=float(value)))
            i += 1
        elif kind == "name" and i + 1 < len(tokens) and tokens[i + 1] == ("sym", "("):
            if value not in FUNCTIONS:
                raise ValueError(f"unknown function {value!r} in {text!r}; functions: {', '.join(FUNCTIONS)}")
            args, i = [], i + 2
            while i < len(tokens) and tokens[i][0] == "name":
                args.append(tokens[i][1])
                i += 1
                if i < len(tokens) and tokens[i] == ("sym", ","):
                    i += 1
            if i >= len(tokens) or tokens[i] != ("sym", ")") or not args:
                raise ValueError(f"{value}(...) in {text!r} needs arm names separated by commas and a ')'")
            if value == "untrained" and len(args) != 1:
                raise ValueError(f"untrained(...) takes one arm, got {len(args)} in {text!r}")
            terms.append(Term(sign, function=value, arms=tuple(args)))
            i += 1
        elif kind == "name":
            terms.append(Term(sign, arms=(value,)))
            i += 1
        else:
            raise ValueError(f"unexpected {value!r} in {text!r}")
        if i == len(tokens):
            return tuple(terms)
        if tokens[i] not in (("sym", "-"), ("sym", "+")):
            raise ValueError(f"expected + or - after a term in {text!r}, got {tokens[i][1]!r}")
        sign = 1.0


def mean_std(values: list[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (0 for one value)."""
    return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0


def _value(terms: tuple[Term, ...], means: dict[str, float]) -> float:
    total = 0.0
    for t in terms:
        if t.number is not None:
            v = t.number
        elif t.function in ("min", "max"):
            v = (min if t.function == "min" else max)(means[a] for a in t.arms)
        elif t.function == "mean":
            v = sum(means[a] for a in t.arms) / len(t.arms)
        else:
            v = means[t.result_keys()[0]]
        total += t.sign * v
    return total


def evaluate(claim: Claim, results: dict[str, list[float]]) -> Verdict:
    """The verdict of `claim` on `results`: result key (an arm, or "untrained(arm)") -> one value per seed."""
    missing = tuple(k for k in claim.result_keys if not results.get(k))
    if missing:
        return Verdict(NO_RESULT, missing=missing)
    stats = {k: mean_std(results[k]) for k in claim.result_keys}
    means = {k: m for k, (m, _) in stats.items()}
    spread = max((s for _, s in stats.values()), default=0.0)
    left, right = _value(claim.left, means), _value(claim.right, means)
    if claim.op == ">":
        gap = left - right - claim.margin
    elif claim.op == "<":
        gap = right - left - claim.margin
    else:
        gap = claim.margin - abs(left - right)
    if abs(gap) < spread:
        outcome = INCONCLUSIVE
    else:
        outcome = HELD if gap >= 0 else NOT_HELD
    return Verdict(outcome, left, right, gap, spread)
