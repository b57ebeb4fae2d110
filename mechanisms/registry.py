"""Registries by name: one generic helper, and the mechanisms by name and family (docs/architecture.md).

`Registry` is stdlib + typing only, so `agents.registry` (learners) and `abm.scenario`
(scenarios, studies) build on it too. Names are canonical (case and `-`/`_` do not
matter); registering a *different* object under a taken name is an error (the same object
again is a no-op, for module reloads); an unknown name lists the available ones.

Mechanisms register with a *family* whose factory signature the family fixes, e.g.

    @register_mechanism("proportional", family="public_goods", citation=ONYEZE)
    class Proportional(Mechanism): ...          # factory ()

    @register_mechanism("apex", family="voting", citation=BRAVERMAN)
    def apex_voting(utilities, eta_total): ...  # factory (utilities, eta_total)

and a scenario that declares `mechanism_family = "voting"` builds its mechanism with
`MECHANISMS.get(params.mechanism, family="voting")(utilities, eta_total)`. The built-in
family modules are imported on the first lookup (`mechsim --help` does not import scipy).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from types import EllipsisType
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class RegistryError(ValueError):
    """A registry problem: a clashing registration, an unknown name or invalid parameters
    of a registered entry (the CLI reports it in one line, like a config error)."""


class UnknownNameError(RegistryError):
    """`<field>: unknown <kind> 'x'; available: a, b, c`."""


def canonical(name: str) -> str:
    """`public-goods`, `public_goods` and `Public-Goods` are one name."""
    return name.strip().lower().replace("_", "-")


@dataclass(frozen=True)
class Citation:
    """Where an entry comes from: author(s), year, title and section, as users read it."""

    author: str
    title: str = ""
    section: str = ""
    year: int | None = None

    def __str__(self) -> str:
        head = f"{self.author} ({self.year})" if self.year else self.author
        parts = [head]
        if self.title:
            parts.append(f"*{self.title}*")
        text = ", ".join(parts)
        return f"{text}, {self.section}" if self.section else text

    def short(self) -> str:
        """`Onyeze et al. 2025, §6` / `Chiesa, Micali, Zhu` -> `Chiesa et al.`: for titles."""
        names = [a.split()[-1] for a in self.author.split(", ") if a.strip()]
        who = names[0] if len(names) == 1 else " & ".join(names) if len(names) == 2 else f"{names[0]} et al."
        text = f"{who} {self.year}" if self.year else who
        return f"{text}, {self.section}" if self.section else text


@dataclass(frozen=True)
class Entry(Generic[T]):
    """One registered object with its name, family (mechanisms), one-line doc and citation."""

    name: str
    obj: T
    family: str | None = None
    doc: str = ""
    citation: Citation | None = None


def first_line(obj: Any) -> str:
    """The first sentence-paragraph of `obj`'s docstring, on one line."""
    doc = (getattr(obj, "__doc__", None) or "").strip()
    return " ".join(doc.split("\n\n")[0].split())


class Registry(Mapping[str, T]):
    """Objects by canonical name. Mapping access (`reg[name]`, `name in reg`, iteration
    over the registered names) returns the objects; `entry(name)` the whole `Entry`.

    kind: what the entries are, for messages ("scenario", "learner", "mechanism").
    field: the config field that names an entry ("scenario", "learner.name").
    loaders: modules imported (or callables called) on the first lookup: the built-in entries.
    """

    def __init__(self, kind: str, field: str, loaders: tuple[str | Callable[[], Any], ...] = ()) -> None:
        self.kind, self.field = kind, field
        self._loaders = loaders
        self._loaded = not loaders
        self._entries: dict[tuple[str | None, str], Entry[T]] = {}

    # --- registration ---------------------------------------------------------------------

    def add(
        self,
        name: str,
        obj: T,
        *,
        family: str | None = None,
        doc: str | None = None,
        citation: Citation | None = None,
    ) -> T:
        """Register `obj` as `name` (in `family`); returns `obj`."""
        if not isinstance(name, str) or not canonical(name):
            raise RegistryError(f"{self.kind} name must be a non-empty string, got {name!r}")
        key = (family, canonical(name))
        old = self._entries.get(key)
        if old is not None:
            if old.obj is obj or _same_definition(old.obj, obj):
                return obj
            where = f" in family {family!r}" if family else ""
            raise RegistryError(f"{self.kind} {name!r}{where} is already registered as {old.obj!r}")
        self._entries[key] = Entry(name, obj, family, first_line(obj) if doc is None else doc, citation)
        return obj

    def register(
        self, name: str, *, family: str | None = None, doc: str | None = None, citation: Citation | None = None
    ) -> Callable[[T], T]:
        """Decorator form of `add`."""

        def deco(obj: T) -> T:
            return self.add(name, obj, family=family, doc=doc, citation=citation)

        return deco

    def describe(self, name: str, doc: str, family: str | None = None) -> None:
        """Set the one-line doc of a registered entry (when its docstring is not one)."""
        key = (family, canonical(name))
        old = self._entries[key]
        self._entries[key] = Entry(old.name, old.obj, old.family, doc, old.citation)

    def remove(self, name: str, family: str | None = None) -> T | None:
        """Unregister (tests); returns the object or None."""
        entry = self._entries.pop((family, canonical(name)), None)
        return None if entry is None else entry.obj

    def pop(self, name: str, default: Any = None) -> Any:
        """dict-style removal (by name, any family)."""
        for key in [k for k in self._entries if k[1] == canonical(name)]:
            return self._entries.pop(key).obj
        return default

    # --- lookup ---------------------------------------------------------------------------

    def load(self) -> None:
        """Import the built-in modules that fill this registry (once)."""
        if self._loaded:
            return
        self._loaded = True
        for loader in self._loaders:
            if isinstance(loader, str):
                importlib.import_module(loader)
            else:
                loader()

    def entry(self, name: str | None, family: str | None = None, *, field: str | None = None) -> Entry[T]:
        """The entry called `name` (in `family`); an unknown name (or a missing one, None,
        from a config) lists the available ones."""
        self.load()
        found = self._entries.get((family, canonical(name))) if isinstance(name, str) else None
        if found is None:
            where = f" in family {family!r}" if family else ""
            raise UnknownNameError(
                f"{field or self.field}: unknown {self.kind} {name!r}{where}; "
                f"available: {', '.join(self.names(family)) or '(none)'}"
            )
        return found

    def get(self, name: str, default: Any = None, *, family: str | None = None, field: str | None = None) -> Any:
        """The object called `name`; with `family`, an unknown name raises UnknownNameError
        (the mapping-style `get(name, default)` returns `default` without a family)."""
        if family is None and field is None:
            self.load()
            entry = self._entries.get((None, canonical(name)))
            return default if entry is None else entry.obj
        return self.entry(name, family, field=field).obj

    def family(self, family: str) -> FamilyView:
        """A read-only mapping view of one family."""
        return FamilyView(self, family)

    def names(self, family: str | None = None) -> list[str]:
        self.load()
        return sorted(e.name for (f, _), e in self._entries.items() if f == family)

    def entries(self, family: str | EllipsisType | None = ...) -> list[Entry[T]]:
        """Every entry (or those of `family`; None: the entries without one), sorted by
        family then name."""
        self.load()
        out = [e for (f, _), e in self._entries.items() if family is ... or f == family]
        return sorted(out, key=lambda e: (e.family or "", e.name))

    def families(self) -> list[str]:
        self.load()
        return sorted({f for f, _ in self._entries if f is not None})

    def find(self, name: str) -> list[Entry[T]]:
        """Every entry called `name`, whatever its family."""
        self.load()
        return [e for (_, k), e in sorted(self._entries.items(), key=lambda kv: str(kv[0])) if k == canonical(name)]

    # --- Mapping (entries without a family) ------------------------------------------------

    def __getitem__(self, name: str) -> T:
        return self.entry(name).obj

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str):
            return False
        self.load()
        return (None, canonical(name)) in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self.names())

    def __repr__(self) -> str:
        return f"Registry({self.kind}: {', '.join(e.name for e in self.entries())})"


class FamilyView(Mapping[str, Any]):
    """A read-only mapping name -> object of one family (e.g. `MONETARY_MECHANISMS`)."""

    def __init__(self, registry: Registry[Any], family: str) -> None:
        self._registry, self._family = registry, family

    def __getitem__(self, name: str) -> Any:
        try:
            return self._registry.entry(name, self._family).obj
        except UnknownNameError:
            raise KeyError(name) from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._registry.names(self._family))

    def __len__(self) -> int:
        return len(self._registry.names(self._family))


def _same_definition(a: Any, b: Any) -> bool:
    """A reloaded module defines a new object of the same qualified name: a no-op too."""
    ka = (getattr(a, "__module__", None), getattr(a, "__qualname__", None))
    kb = (getattr(b, "__module__", None), getattr(b, "__qualname__", None))
    if ka[1] is None:  # instances (scenarios): compare their classes
        ka = (type(a).__module__, type(a).__qualname__)
        kb = (type(b).__module__, type(b).__qualname__)
    return ka == kb and ka[0] not in (None, "builtins") and not str(ka[0]).startswith("__")


# --- the mechanisms ------------------------------------------------------------------------

#: Family -> the factory signature every mechanism of it accepts (documentation for
#: `mechsim describe` and plug-in authors).
FAMILIES: dict[str, str] = {
    "public_goods": "() -> Mechanism: a monetary mechanism for one good of cost 1, run on "
    "artificial currency by the public-goods scenario",
    "many_goods": "(costs: a CostFunction on (n, m) or a pool of them) -> Mechanism: m public goods under a "
    "submodular cost, one scalar report per agent scaling its value vector (Onyeze et al. 2025 §7), run on "
    "artificial currency by the public-goods scenario with goods > 1",
    "voting": "(utilities (n, k), eta_total) -> Mechanism: a lottery over k alternatives",
    "matching": "(uh (m, m), ud (m, m), eta) -> Mechanism: a two-sided matching of m hospitals and m doctors",
    "approx_valuations": "(delta, bid_cap) -> ApproxAuction: a single-good auction for approximate valuations",
    "assignment": "(utilities (n, n), beta, tol, bid_cap) -> Mechanism: one-sided unit-demand allocation of n "
    "items (beta, tol: the regularized heuristic's weight and tolerance; bid_cap: lambda-bar, bids capped to it)",
    "linked_vcg": "(mech: LinkedVCG, truth (n, T, I)) -> ResourceAllocationRound: repeated resource "
    "allocation played date by date, reports scaling the true endowments",
    "course_allocation": "(utilities (n, m), capacities (m,), k) -> Mechanism: n students, m courses with "
    "capacities seats, at most k courses each (APEX over a heuristic H)",
    "facility_location": "(service (n, m), costs (m,)) -> Mechanism: n clients, m sites with opening costs "
    "(APEX over a heuristic H)",
}

#: Built-in family modules, imported on the first lookup.
BUILTIN_FAMILIES: tuple[str, ...] = (
    "mechanisms.public_goods.monetary",
    "mechanisms.public_goods.goods",
    "mechanisms.voting.mechanisms",
    "mechanisms.matching.two_sided",
    "mechanisms.approx_valuations.auctions",
    "mechanisms.assignment.mechanisms",
    "mechanisms.linked_vcg.adapter",
    "mechanisms.combinatorial.mechanisms",
)

MECHANISMS: Registry[Callable[..., Any]] = Registry("mechanism", "params.mechanism", BUILTIN_FAMILIES)

#: The four source papers: (authors, title, year).
Source = tuple[str, str, int]
BRAVERMAN: Source = "M. Braverman", "Optimization-friendly generic mechanisms without money", 2021
ONYEZE: Source = (
    "C. Onyeze, D. X. Lin, S. Banerjee, É. Tardos",
    "Dynamic allocation of public goods with approximate core equilibria",
    2025,
)
CHIESA: Source = "A. Chiesa, S. Micali, Z. A. Zhu", "Mechanism design with approximate valuations", 2012
ZHU: Source = "J. Y. Zhu", "Repeated resource allocation", 2021


def cite(source: Source, section: str = "") -> Citation:
    """`cite(BRAVERMAN, "§3.1")`."""
    return Citation(source[0], source[1], section, source[2])


def register_mechanism(
    name: str, *, family: str, citation: Citation | None = None, doc: str | None = None
) -> Callable[[T], T]:
    """Register a mechanism class or factory function under `name` in `family`; its call
    signature must be the family's (`FAMILIES`)."""
    if not family:
        raise RegistryError(f"mechanism {name!r}: a family is required")
    return MECHANISMS.register(name, family=family, citation=citation, doc=doc)  # type: ignore[return-value]


__all__ = [
    "BUILTIN_FAMILIES",
    "FAMILIES",
    "MECHANISMS",
    "Citation",
    "Entry",
    "FamilyView",
    "Registry",
    "RegistryError",
    "UnknownNameError",
    "canonical",
    "cite",
    "first_line",
    "register_mechanism",
]
