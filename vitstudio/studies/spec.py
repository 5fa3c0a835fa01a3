"""A study file: a small grid of ordinary runs and the claims it tests (TOML).

    [study]                        title, source (where the claim comes from), claim (its words), seeds, figures
    [base]                         preset = "quick", then overrides as tables: model.pos_embed = "none"
    [budgets.smoke|cpu|gpu]        overrides for that budget (seeds = [...] too); [budgets.cpu.arms.NAME] for one arm
    [arms.NAME]                    an arm's overrides (seeds = [...] to run it once per listed seed only)
    [axes.AXIS.LEVEL]              overrides per level; the product of the axes' levels makes arms "LEVEL_LEVEL"
    [[claims]]                     text, metric, left, op ('>', '<' or '~'), right, margin (see `verdict`)

The string "default" puts a field back to its default (a model argument to the registered model's own value).
A string value "@ARM" (e.g. objective.teacher = "@teacher") makes the arm a later stage of ARM: it trains
once ARM's run with the same seed (else its first seed) has finished, with the reference replaced by that
run's id. A config is built as preset, base, budget, arm, budget's arm overrides.
"""

from __future__ import annotations

import itertools
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from ..config import Config, ConfigError, load_config
from ..train.compare import flatten
from .verdict import Claim, parse_claim

BUDGETS = ("smoke", "cpu", "gpu")
DEFAULT_BUDGET = "cpu"
FIGURES = ("position", "distance")


class StudyError(ValueError):
    """A bad study file: the message names the study (and the arm) and says why."""


@dataclass(frozen=True)
class Arm:
    name: str
    overrides: dict  # nested {section: {field: value}}
    seeds: tuple[int, ...] | None = None  # None: the budget's or the study's seeds

    @property
    def needs(self) -> dict[str, str]:
        """Dotted field -> the arm whose run it refers to ("@arm" values)."""
        return {k: v[1:] for k, v in flatten(self.overrides).items() if isinstance(v, str) and v.startswith("@")}


@dataclass(frozen=True)
class Study:
    name: str
    title: str
    source: str
    claim: str  # the claim in the paper's words
    base: dict  # {"preset": ..., section: {field: value}}
    arms: dict[str, Arm]  # in stage order: an arm comes after the arms it needs
    seeds: tuple[int, ...]
    budgets: dict[str, dict] = field(default_factory=dict)
    claims: tuple[Claim, ...] = ()
    figures: tuple[str, ...] = ()
    path: str | None = None

    def seeds_for(self, arm: str, budget: str) -> tuple[int, ...]:
        if self.arms[arm].seeds is not None:
            return self.arms[arm].seeds
        return tuple(self.budgets.get(budget, {}).get("seeds", self.seeds))

    def config(self, arm: str, seed: int, budget: str = DEFAULT_BUDGET) -> Config:
        """The arm's config at `budget` for `seed`; "@arm" references are left for the runner to resolve."""
        if budget not in BUDGETS:
            raise StudyError(f"study {self.name}: unknown budget {budget!r}; budgets are {', '.join(BUDGETS)}")
        spent = self.budgets.get(budget, {})
        layers = [
            ("base", _sections(self.base)),
            (f"budget {budget}", _sections(spent)),
            (f"arm {arm}", self.arms[arm].overrides),
            (f"budget {budget}, arm {arm}", spent.get("arms", {}).get(arm, {})),
        ]
        try:
            cfg = load_config(self.base.get("preset", "quick"))
            for _, layer in layers:
                cfg = Config.from_dict(_with_defaults(layer), base=cfg)
        except ConfigError as e:
            where = next((w for w, layer in layers if _touches(layer, e.field)), "base")
            raise StudyError(f"study {self.name}, {where}: {e}") from None
        cfg.runtime.seed = seed
        cfg.runtime.name = f"{self.name}-{arm}-s{seed}"
        return cfg


def study_dir():
    """The packaged studies (`resources/studies/`)."""
    return resources.files("vitstudio.resources") / "studies"


def list_studies() -> list[str]:
    return sorted(p.name[:-5] for p in study_dir().iterdir() if p.name.endswith(".toml"))


def load_study(name_or_path: str | Path) -> Study:
    """A packaged study by name, or a study file."""
    path = Path(name_or_path)
    if path.suffix == ".toml" or path.exists():
        if not path.is_file():
            raise StudyError(f"no such study file: {path}")
        return parse_study(path.read_text(encoding="utf-8"), path.stem, str(path))
    if str(name_or_path) not in list_studies():
        raise StudyError(f"unknown study {name_or_path!r}; packaged: {', '.join(list_studies())}")
    text = (study_dir() / f"{name_or_path}.toml").read_text(encoding="utf-8")
    return parse_study(text, str(name_or_path), f"packaged study {name_or_path}")


def parse_study(text: str, name: str, origin: str | None = None) -> Study:
    """Read and check a study file's text: arms, axes, stage references (no unknown arm, no cycle), claims."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise StudyError(f"study {name} ({origin or 'text'}) is not valid TOML: {e}") from None
    unknown = set(data) - {"study", "base", "budgets", "arms", "axes", "claims"}
    if unknown:
        raise StudyError(f"study {name}: unknown table(s) {', '.join(sorted(unknown))}")
    head = data.get("study", {})
    arms = {n: _arm(name, n, v) for n, v in data.get("arms", {}).items()}
    for arm in _axes_arms(name, data.get("axes", {})):
        if arm.name in arms:
            raise StudyError(f"study {name}, arm {arm.name}: defined both in [arms] and by [axes]")
        arms[arm.name] = arm
    if not arms:
        raise StudyError(f"study {name}: no arms; add [arms.NAME] tables or [axes.AXIS.LEVEL] tables")
    budgets = data.get("budgets", {})
    for b, spent in budgets.items():
        if b not in BUDGETS:
            raise StudyError(f"study {name}: unknown budget {b!r}; budgets are {', '.join(BUDGETS)}")
        for a in spent.get("arms", {}):
            if a not in arms:
                raise StudyError(f"study {name}, budget {b}: arm {a!r} is not an arm ({', '.join(arms)})")
    seeds = tuple(head.get("seeds", [0]))
    if not seeds or not all(isinstance(s, int) for s in seeds):
        raise StudyError(f"study {name}: seeds must be a list of integers, got {head.get('seeds')!r}")
    figures = tuple(head.get("figures", []))
    for f in figures:
        if f not in FIGURES:
            raise StudyError(f"study {name}: unknown figure {f!r}; figures are {', '.join(FIGURES)}")
    claims = []
    for i, c in enumerate(data.get("claims", [])):
        try:
            claims.append(parse_claim(c))
        except ValueError as e:
            raise StudyError(f"study {name}, claim {i + 1}: {e}") from None
        for arm in claims[-1].arms:
            if arm not in arms:
                raise StudyError(f"study {name}, claim {i + 1}: {arm!r} is not an arm ({', '.join(arms)})")
    study = Study(
        name=name,
        title=str(head.get("title", name)),
        source=str(head.get("source", "")),
        claim=str(head.get("claim", "")),
        base=data.get("base", {}),
        arms={a: arms[a] for a in _stage_order(name, arms)},
        seeds=seeds,
        budgets=budgets,
        claims=tuple(claims),
        figures=figures,
        path=origin,
    )
    for arm in study.arms:  # every arm's config is valid at every budget the file defines
        for budget in {DEFAULT_BUDGET, *budgets}:
            study.config(arm, study.seeds_for(arm, budget)[0], budget)
    return study


def _arm(study: str, name: str, table) -> Arm:
    if not isinstance(table, dict):
        raise StudyError(f"study {study}, arm {name}: expected a table of overrides, got {table!r}")
    table = dict(table)
    seeds = table.pop("seeds", None)
    if seeds is not None and (not isinstance(seeds, list) or not seeds or not all(isinstance(s, int) for s in seeds)):
        raise StudyError(f"study {study}, arm {name}: seeds must be a list of integers, got {seeds!r}")
    return Arm(name, table, tuple(seeds) if seeds is not None else None)


def _axes_arms(study: str, axes: dict) -> list[Arm]:
    """The product of the axes' levels: one arm per combination, named by its levels joined with '_'."""
    if not axes:
        return []
    levels = []
    for axis, table in axes.items():
        if not isinstance(table, dict) or not table or not all(isinstance(v, dict) for v in table.values()):
            raise StudyError(f"study {study}, axis {axis}: expected [axes.{axis}.LEVEL] tables of overrides")
        levels.append(list(table.items()))
    arms = []
    for combo in itertools.product(*levels):
        merged: dict = {}
        for _, overrides in combo:
            for section, values in overrides.items():
                merged.setdefault(section, {}).update(values)
        arms.append(_arm(study, "_".join(level for level, _ in combo), merged))
    return arms


def _stage_order(study: str, arms: dict[str, Arm]) -> list[str]:
    """Arms sorted so each comes after the arms it refers to; an unknown reference or a cycle is refused."""
    for arm in arms.values():
        for key, ref in arm.needs.items():
            if ref not in arms:
                raise StudyError(f"study {study}, arm {arm.name}: {key} refers to @{ref}, which is not an arm")
    order: list[str] = []
    visiting: list[str] = []

    def visit(name: str) -> None:
        if name in order:
            return
        if name in visiting:
            cycle = [*visiting[visiting.index(name) :], name]
            raise StudyError(f"study {study}, arm {name}: its stages form a cycle ({' -> @'.join(cycle)})")
        visiting.append(name)
        for ref in arms[name].needs.values():
            visit(ref)
        visiting.pop()
        order.append(name)

    for name in arms:
        visit(name)
    return order


def _with_defaults(layer: dict) -> dict:
    """`layer` with each "default" value replaced by the field's default."""
    fresh = Config()
    return {
        section: {k: getattr(getattr(fresh, section), k, v) if v == "default" else v for k, v in values.items()}
        if isinstance(values, dict)
        else values
        for section, values in layer.items()
    }


def _sections(table: dict) -> dict:
    """The override sections of a base or budget table (its other keys are the study's own)."""
    return {k: v for k, v in table.items() if k not in ("preset", "seeds", "arms")}


def _touches(layer: dict, key: str) -> bool:
    flat = flatten(layer)
    return key in flat or any(k.startswith(f"{key}.") for k in flat) or key in layer
