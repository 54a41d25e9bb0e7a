"""A JavaScript tokenizer for the source checks: enough of ECMAScript to find code in our
modules reliably (comments, strings, template literals with their `${}` code, regex literals),
not a parser. Used by test_frontend_store_writes.py."""

from __future__ import annotations

import re
from dataclasses import dataclass

PUNCT = sorted(
    """>>>= ... === !== **= <<= >>= >>> &&= ||= ??= => == != <= >= && || ?? ?. ++ -- += -= *= /=
    %= &= |= ^= ** << >> { } ( ) [ ] ; , < > + - * / % & | ^ ! ~ ? : = . @ #""".split(),
    key=len,
    reverse=True,
)
# After these a `/` starts a regex literal; after an operand it divides.
REGEX_AFTER_WORDS = {"return", "typeof", "case", "do", "else", "in", "of", "new", "delete"}
REGEX_AFTER_WORDS |= {"void", "throw", "instanceof", "yield", "await"}
IDENT = re.compile(r"#?[A-Za-z_$][\w$]*")
NUMBER = re.compile(r"\d[\w.]*|\.\d[\w]*")


@dataclass(frozen=True)
class Tok:
    kind: str  # id, num, str, regex, punct
    text: str
    line: int


class Tokenizer:
    def __init__(self, src: str) -> None:
        self.src = src
        self.pos = 0
        self.line = 1
        self.out: list[Tok] = []
        self.braces: list[str] = []  # "{" for a block/object, "${" for a template hole

    def emit(self, kind: str, text: str) -> None:
        self.out.append(Tok(kind, text, self.line))

    def advance(self, n: int) -> str:
        text = self.src[self.pos : self.pos + n]
        self.line += text.count("\n")
        self.pos += n
        return text

    def regex_allowed(self) -> bool:
        if not self.out:
            return True
        last = self.out[-1]
        if last.kind == "punct":
            return last.text not in {")", "]", "}"}
        return last.kind == "id" and last.text in REGEX_AFTER_WORDS

    def run(self) -> list[Tok]:
        src = self.src
        while self.pos < len(src):
            c = src[self.pos]
            rest = src[self.pos : self.pos + 2]
            if c.isspace():
                self.advance(1)
            elif rest == "//":
                end = src.find("\n", self.pos)
                self.advance((len(src) if end < 0 else end) - self.pos)
            elif rest == "/*":
                self.advance(src.index("*/", self.pos) + 2 - self.pos)
            elif c in "'\"":
                self.emit("str", self.quoted(c))
            elif c == "`":
                self.advance(1)
                self.template()
            elif c == "}" and self.braces and self.braces[-1] == "${":
                self.braces.pop()
                self.emit("punct", ")")
                self.advance(1)
                self.template()
            elif c == "/" and self.regex_allowed():
                self.emit("regex", self.regex())
            elif m := IDENT.match(src, self.pos):
                self.emit("id", self.advance(m.end() - self.pos))
            elif m := NUMBER.match(src, self.pos):
                self.emit("num", self.advance(m.end() - self.pos))
            else:
                self.punct()
        return self.out

    def punct(self) -> None:
        for p in PUNCT:
            if self.src.startswith(p, self.pos):
                if p == "{":
                    self.braces.append("{")
                elif p == "}" and self.braces:
                    self.braces.pop()
                self.emit("punct", self.advance(len(p)))
                return
        raise SyntaxError(f"line {self.line}: unexpected {self.src[self.pos]!r}")

    def quoted(self, quote: str) -> str:
        i = self.pos + 1
        while self.src[i] != quote:
            i += 2 if self.src[i] == "\\" else 1
        return self.advance(i + 1 - self.pos)

    def regex(self) -> str:
        i, in_class = self.pos + 1, False
        while in_class or self.src[i] != "/":
            if self.src[i] == "\\":
                i += 1
            elif self.src[i] == "[":
                in_class = True
            elif self.src[i] == "]":
                in_class = False
            i += 1
        m = re.compile(r"[a-z]*").match(self.src, i + 1)
        return self.advance((m.end() if m else i + 1) - self.pos)

    def template(self) -> None:
        """From inside a template literal: its text up to the closing ` or the next `${`."""
        i = self.pos
        while self.src[i] != "`" and not self.src.startswith("${", i):
            i += 2 if self.src[i] == "\\" else 1
        self.emit("str", self.advance(i - self.pos))
        if self.src[i] == "`":
            self.advance(1)
        else:
            self.advance(2)
            self.braces.append("${")
            self.emit("punct", "(")  # a hole's code reads as a parenthesised expression


def tokenize(src: str) -> list[Tok]:
    return Tokenizer(src).run()
