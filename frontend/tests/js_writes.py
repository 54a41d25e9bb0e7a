"""Finds code that writes into the store's state, over js_tokens' tokens.

What the store owns: the store itself (a name or `this.` field called `store`, any `.store`
member), and everything reached from it: values bound from such an expression (`const rs =
store.room(id)`, destructuring, `for (const rs of store.rooms.values())`, `x = c ? a : b`,
`this.x = ...`), the parameters of callbacks that iterate one (`.forEach((m) => ...)`), the
result of a call given one (`findPending(store, id)`), and the parameters that receive one
at any call site, matched by function name across modules (by position, and by key from
`f({ store })` into `f({ store })`). A fresh array of owned values (`[...rs.members.values()]`,
`Array.from`, `.filter`) may be reordered; its elements may not be changed.

A write is an assignment, `++`/`--` or `delete` through a member of an owned value; a
mutating call on one (`.set`, `.add`, `.push`, `.sort`, `.dispatchEvent`, ..., also through
`.call`/`.apply`); `Object.assign`/`defineProperty`/`Reflect.set`... on one. Names are
scoped per module and flow-insensitively, so it errs towards reporting.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from js_tokens import Tok, tokenize

KEYWORDS = set(
    """if for while switch catch function return typeof new delete void await yield in of
    instanceof else do case throw const let var class extends super import export from async
    static try finally default break continue null true false undefined this""".split()
)
MUTATORS = set("set delete clear add push pop shift unshift splice sort reverse fill".split())
MUTATORS |= {"copyWithin", "dispatchEvent"}
OBJECT_WRITERS = set("assign defineProperty defineProperties setPrototypeOf set".split())
OBJECT_WRITERS |= {"deleteProperty"}
ITERATION = set("forEach map filter find findLast findIndex some every reduce flatMap".split())
FRESH = set("filter slice concat map flatMap toSorted toReversed values entries".split())
ELEMENT = set("at find findLast pop shift get".split())  # one element of a container
CONTAINERS = {"Map", "Set", "Array", "WeakMap", "WeakSet"}
ASSIGN = set("= += -= *= /= %= **= <<= >>= >>>= &= |= ^= &&= ||= ??=".split())
OPERATORS = set("=== !== == != < > <= >= + - * / % ! instanceof in typeof".split())
OWNED, CONTAINS = "owned", "contains"  # a value the store holds / a fresh array of such


@dataclass
class Func:
    module: Module
    params: list[list[tuple[str, str]]]  # per position: (key, name); key "" = the whole
    body: tuple[int, int]  # its tokens: a block, or an arrow's expression

    def returns(self) -> str | None:
        """What its return values yield (any `return` in the block, or the expression)."""
        m, (a, b) = self.module, self.body
        if m.text(a) != "{":
            return m.yields(a, b)
        kinds = {m.yields(k + 1, m.expr_end(k + 1)) for k in range(a, b) if m.text(k) == "return"}
        return OWNED if OWNED in kinds else CONTAINS if CONTAINS in kinds else None


@dataclass
class Module:
    name: str
    toks: list[Tok]
    match: dict[int, int] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=lambda: {"store": OWNED})
    fields: dict[str, str] = field(default_factory=lambda: {"store": OWNED})
    program: Program | None = None

    def __post_init__(self) -> None:
        stack: list[int] = []
        for i, t in enumerate(self.toks):
            if t.kind == "punct" and t.text in "([{":
                stack.append(i)
            elif t.kind == "punct" and t.text in ")]}":
                j = stack.pop()
                self.match[i], self.match[j] = j, i

    def text(self, i: int) -> str:
        return self.toks[i].text if 0 <= i < len(self.toks) else ""

    def is_id(self, i: int) -> bool:
        return 0 <= i < len(self.toks) and self.toks[i].kind == "id"

    def opens(self, i: int) -> bool:
        return i in self.match and self.match[i] > i

    # ---- shapes ---------------------------------------------------------------------------
    def chain_back(self, i: int) -> int | None:
        """Start of the member/call chain ending at token i (None: i ends no chain)."""
        while True:
            if i in self.match and self.match[i] < i:  # a closing bracket
                j = self.match[i]
                if self.text(j) != "{" and (self.is_id(j - 1) or self.text(j - 1) in {")", "]"}):
                    if self.text(j - 1) in KEYWORDS - {"this"}:
                        return j
                    i = j - 1
                    continue
                return j
            if not self.is_id(i):
                return None
            if self.text(i - 1) not in {".", "?."}:
                return i
            i -= 2

    def accesses(self, a: int) -> tuple[list[int], int]:
        """The depth-0 `.`/`?.`/`[`/`(` positions of the chain starting at a, and its end."""
        cuts, i = [], a + (3 if self.text(a) == "this" and self.text(a + 1) == "." else 1)
        if self.opens(a):
            i = self.match[a] + 1
        while True:
            if self.text(i) in {".", "?."} and self.is_id(i + 1):
                cuts.append(i)
                i += 2
            elif self.text(i) in {"(", "["} and self.opens(i):
                cuts.append(i)
                i = self.match[i] + 1
            else:
                return cuts, i

    def split(self, a: int, b: int, seps: set[str]) -> list[tuple[int, int]]:
        """[a, b) cut at depth-0 separators (empty parts dropped)."""
        parts, start, i = [], a, a
        while i < b:
            if self.opens(i):
                i = self.match[i] + 1
                continue
            if self.text(i) in seps and self.toks[i].kind == "punct":
                parts.append((start, i))
                start = i + 1
            i += 1
        parts.append((start, b))
        return [(x, y) for x, y in parts if x < y]

    def expr_end(self, a: int) -> int:
        i = a
        while i < len(self.toks) and self.text(i) not in {";", ",", ")", "]", "}"}:
            i = self.match[i] + 1 if self.opens(i) else i + 1
        return i

    def pattern(self, a: int, b: int) -> list[tuple[str, str]]:
        """(key, name) of a binding pattern: `x`, `...x`, `{ a, b: c, d = 1 }`, `[e, f]`."""
        a += self.text(a) == "..."
        b = next((x for x, _ in self.split(a, b, {"="})[1:]), b + 1) - 1 if a < b else b
        if b - a == 1 and self.is_id(a):
            return [("", self.text(a))]
        if self.text(a) not in {"{", "["}:
            return []
        out = []
        for x, y in self.split(a + 1, self.match[a], {","}):
            colon = next((k for k in range(x, y) if self.text(k) == ":"), None)
            key = self.text(x) if self.text(a) == "{" else ""
            out += [(key, name) for _, name in self.pattern(colon + 1 if colon else x, y)]
        return out

    # ---- what an expression yields ----------------------------------------------------------
    def yields(self, a: int, b: int) -> str | None:
        while a < b and self.text(a) in {"await", "void"}:
            a += 1
        if a >= b:
            return None
        for seps in ({"||", "&&", "??"}, {"?", ":"}):
            parts = self.split(a, b, seps)
            if len(parts) > 1:  # either operand (a ternary's condition is not its value)
                kinds = {self.yields(x, y) for x, y in parts[1 if ":" in seps else 0 :]}
                return OWNED if OWNED in kinds else CONTAINS if CONTAINS in kinds else None
        i, t = a, self.text(a)
        while i < b:  # arithmetic, comparisons, negation: a primitive
            if self.text(i) in OPERATORS and self.toks[i].kind in {"punct", "id"}:
                return None
            i = self.match[i] + 1 if self.opens(i) else i + 1
        if self.text(a + 1) == "=>" or (self.opens(a) and self.text(self.match[a] + 1) == "=>"):
            return None  # a function
        if t == "(" and self.match[a] == b - 1:
            return self.yields(a + 1, b - 1)
        fresh_call = t in {"Array", "Object"} and self.text(a + 2) in {"from", "values", "entries"}
        if t == "[" or fresh_call or (t == "new" and self.text(a + 1) in CONTAINERS):
            # A new container: of owned values if given any; then whatever follows it.
            group = next(k for k in range(a, b) if self.opens(k))
            parts = self.split(group + 1, self.match[group], {","})
            kinds = {self.yields(x + (self.text(x) == "..."), y) for x, y in parts}
            kind = CONTAINS if kinds - {None} else None
            for cut in (c for c in self.accesses(group)[0] if c < b):
                kind = self.step(kind, cut)
            return kind
        if t in {"{", "function", "class", "new"} or not self.is_id(a):
            return None
        return self.chain_yields(a, b)

    def chain_yields(self, a: int, b: int) -> str | None:
        """Follow the chain [a, b) access by access from its root."""
        if self.text(a) == "this" and a + 2 < b:
            kind = self.fields.get(self.text(a + 2))
        else:
            kind = self.names.get(self.text(a))
        for cut in (c for c in self.accesses(a)[0] if c < b):
            kind = self.step(kind, cut)
        return kind

    def step(self, kind: str | None, cut: int) -> str | None:
        after = self.text(cut + 1)
        if self.text(cut) == "[":
            return OWNED if kind else None
        if self.text(cut) == "(":  # a method of an owned value, or a function returning one
            if kind == OWNED:
                return OWNED
            return self.program.returns(self.text(cut - 1)) if self.program else None
        if kind == OWNED or after == "store":
            return OWNED
        if kind == CONTAINS:
            return CONTAINS if after in FRESH else OWNED if after in ELEMENT else None
        return None

    def reaches_into(self, a: int, b: int) -> bool:
        """Is the chain [a, b) a member of something owned (so writing it writes the store)?"""
        return any(self.yields(a, cut) == OWNED for cut in self.accesses(a)[0] if cut < b)


class Program:
    """All modules: who owns what (to a fixpoint), then the writes."""

    def __init__(self, sources: dict[str, str]) -> None:
        self.modules = [Module(name, tokenize(src)) for name, src in sources.items()]
        self.funcs: dict[str, list[Func]] = defaultdict(list)
        self.asking: set[str] = set()  # returns() in progress (recursion)
        for m in self.modules:
            m.program = self
        for m in self.modules:
            self.index_functions(m)
        for func in (f for fs in self.funcs.values() for f in fs):  # f({ store: s })
            for param in func.params:
                bind(func.module.names, [(k, n) for k, n in param if k == "store"], OWNED)
        while True:
            before = self.state()
            for m in self.modules:
                self.propagate(m)
            if self.state() == before:
                break

    def returns(self, name: str) -> str | None:
        """What a call to any function of that name yields."""
        if name in self.asking:
            return None
        self.asking.add(name)
        try:
            kinds = {f.returns() for f in self.funcs.get(name, [])}
        finally:
            self.asking.discard(name)
        return OWNED if OWNED in kinds else CONTAINS if CONTAINS in kinds else None

    def state(self) -> list[tuple[tuple[str, str], ...]]:
        return [(*sorted(m.names.items()), *sorted(m.fields.items())) for m in self.modules]

    def index_functions(self, m: Module) -> None:
        cls = ""
        for i, t in enumerate(m.toks):
            if m.text(i - 1) == "class" and t.kind == "id":
                cls = t.text
            if not (t.text == "(" and m.opens(i)):
                continue
            close = m.match[i]
            params = [m.pattern(x, y) for x, y in m.split(i + 1, close, {","})]
            name, before = m.text(i - 1), i - 1 - (m.text(i - 1) == "async")
            if m.is_id(i - 1) and name not in KEYWORDS and m.text(close + 1) == "{":
                body = (close + 1, m.match[close + 1])
                self.funcs[cls if name == "constructor" else name].append(Func(m, params, body))
            elif m.text(close + 1) == "=>" and m.text(before) in {"=", ":"} and m.is_id(before - 1):
                start = close + 2
                end = m.match[start] if m.text(start) == "{" else m.expr_end(start)
                body = (start, end)
                self.funcs[m.text(before - 1)].append(Func(m, params, body))

    def propagate(self, m: Module) -> None:
        for i, t in enumerate(m.toks):
            if t.kind == "id" and t.text in {"const", "let", "var"}:
                self.declaration(m, i + 1)
            elif t.text == "=" and t.kind == "punct" and m.is_id(i - 1):
                kind = m.yields(i + 1, m.expr_end(i + 1))
                if m.text(i - 2) == "." and m.text(i - 3) == "this":
                    bind(m.fields, [("", m.text(i - 1))], kind)
                elif m.text(i - 2) not in {".", "?."}:
                    bind(m.names, [("", m.text(i - 1))], kind)
            elif t.text == "(" and m.opens(i) and m.is_id(i - 1):
                self.call(m, i)

    def declaration(self, m: Module, a: int) -> None:
        end = m.match[a] + 1 if m.opens(a) else a + 1
        names = m.pattern(a, end)
        if m.text(end) == "of":  # for (const x of xs): an element of what xs yields
            bind(m.names, names, OWNED if m.yields(end + 1, m.expr_end(end + 1)) else None)
        elif m.text(end) == "=":
            stop = m.expr_end(end + 1)
            kind = m.yields(end + 1, stop)
            bind(m.names, names, OWNED if kind and m.opens(a) else kind)
            if m.text(stop) == ",":
                self.declaration(m, stop + 1)

    def call(self, m: Module, i: int) -> None:
        name, args = m.text(i - 1), m.split(i + 1, m.match[i], {","})
        if name in ITERATION and m.text(i - 2) in {".", "?."} and args:
            start = m.chain_back(i - 3)
            if start is not None and m.yields(start, i - 2):
                bind(m.names, callback_params(m, args[0][0]), OWNED)
        for pos, (x, y) in enumerate(args):
            kinds = {"": m.yields(x, y)}
            if m.text(x) == "{" and m.match[x] == y - 1:
                kinds = {key: m.yields(*span) for key, span in object_props(m, x)}
            if not any(kinds.values()):
                continue
            for func in self.funcs.get(name, []):
                for key, binding in func.params[pos] if pos < len(func.params) else []:
                    kind = kinds.get(key) if key in kinds else kinds.get("")
                    bind(func.module.names, [("", binding)], kind)

    def writes(self, skip: set[str]) -> list[str]:
        return [
            f"{m.name}:{m.toks[i].line}: {why}"
            for m in self.modules
            if m.name not in skip
            for i, why in find_writes(m)
        ]


def callback_params(m: Module, x: int) -> list[tuple[str, str]]:
    x += m.text(x) == "async"
    if m.text(x) == "function":
        x += 1 + m.is_id(x + 1)
    if m.is_id(x) and m.text(x + 1) == "=>":
        return [("", m.text(x))]
    if m.text(x) != "(":
        return []
    return [p for part in m.split(x + 1, m.match[x], {","}) for p in m.pattern(*part)]


def object_props(m: Module, a: int) -> list[tuple[str, tuple[int, int]]]:
    out = []
    for x, y in m.split(a + 1, m.match[a], {","}):
        colon = next((k for k in range(x, y) if m.text(k) == ":"), None)
        out.append((m.text(x), (colon + 1, y) if colon else (x, y)))
    return out


def bind(names: dict[str, str], bindings: list[tuple[str, str]], kind: str | None) -> None:
    for key, name in bindings:
        kind = OWNED if key == "store" else kind  # `{ store: s }` renames the store
        if kind and names.get(name) != OWNED and name not in KEYWORDS:
            names[name] = kind


def pattern_targets(m: Module, a: int) -> list[tuple[int, int]]:
    """The assignment targets inside a destructuring pattern `[x.a, ...y.b]`, `{ k: x.c }`."""
    out = []
    for x, y in m.split(a + 1, m.match[a], {","}):
        x += m.text(x) == "..."
        colon = next((k for k in range(x, y) if m.text(k) == ":"), None)
        x = colon + 1 if colon is not None and m.text(a) == "{" else x
        y = next((k for k in range(x, y) if m.text(k) == "=" and k not in m.match), y)
        out += pattern_targets(m, x) if m.opens(x) and m.text(x) != "(" else [(x, y)]
    return out


def find_writes(m: Module) -> list[tuple[int, str]]:
    found = []
    for i, t in enumerate(m.toks):
        if t.kind == "punct" and t.text in ASSIGN:
            start = m.chain_back(i - 1)
            if start is not None and m.reaches_into(start, i):
                found.append((i, f"assignment ({t.text})"))
            elif start is not None and m.text(start) in {"[", "{"} and m.match[start] == i - 1:
                if any(m.reaches_into(x, y) for x, y in pattern_targets(m, start)):
                    found.append((i, "destructuring assignment"))
        elif t.kind == "punct" and t.text in {"++", "--"}:
            start = m.chain_back(i - 1)
            a, b = (start, i) if start is not None else (i + 1, m.accesses(i + 1)[1])
            if m.reaches_into(a, b):
                found.append((i, t.text))
        elif t.kind == "id" and t.text == "delete" and m.reaches_into(i + 1, m.accesses(i + 1)[1]):
            found.append((i, "delete"))
        elif t.kind == "id" and m.text(i + 1) == "(" and m.text(i - 1) in {".", "?."}:
            found += mutating_call(m, i)
    return found


def mutating_call(m: Module, i: int) -> list[tuple[int, str]]:
    name, start = m.text(i), m.chain_back(i - 2)
    first = m.split(i + 2, m.match[i + 1], {","})[:1]
    if name in MUTATORS and start is not None and m.yields(start, i - 1) == OWNED:
        return [(i, f".{name}()")]
    owned_first = bool(first) and m.yields(*first[0]) == OWNED
    if name in {"call", "apply"} and m.text(i - 2) in MUTATORS and owned_first:
        return [(i, f".{m.text(i - 2)}.{name}()")]
    if name in OBJECT_WRITERS and m.text(i - 2) in {"Object", "Reflect"} and owned_first:
        return [(i, f"{m.text(i - 2)}.{name}()")]
    return []
