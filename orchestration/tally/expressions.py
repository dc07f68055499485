"""Billable metric `expression`s: Lago's small SQL-like language, checked and translated to SQL.

A Lago billable metric may compute its value per event with an expression such as
``CEIL((event.properties.ended_at - event.timestamp) / 3600)``. Lago evaluates it when it
receives the event (lago-expression: a Rust evaluator over BigDecimal). Tally evaluates it in
the warehouse instead, so the text a user loads becomes SQL. This module is the only way in.

``parse_expression(text)`` parses with sqlglot and walks the tree against an allow-list of
node types; anything not on the list is an ``ExpressionError`` naming what is not allowed.
``to_sql(text, target)`` renders the checked tree itself, node by node, for DuckDB or
PostgreSQL. sqlglot's own SQL generator is never used, so the output holds only the
constructs written below, over two columns: ``properties`` (JSON on DuckDB, jsonb on
PostgreSQL) and ``event_timestamp`` (a naive UTC timestamp).

Accepted:
  * numbers written as digits with an optional fraction (``12``, ``3.5``), 'text' literals;
  * ``+ - * /``, unary minus, parentheses;
  * ``= != <> < <= > >=``, ``AND``, ``OR``, ``NOT``, ``CASE WHEN … THEN … [ELSE …] END``;
  * ``CONCAT(a, …)``, ``ROUND(x[, d])``, ``CEIL(x[, d])``, ``FLOOR(x[, d])`` (d a whole number);
  * ``event.timestamp``, ``event.properties.<name>`` (``[A-Za-z0-9_]+``, quoted or not),
    ``event.code`` (the metric's code, as Lago allows it; to_sql needs ``metric_code``).

Semantics follow Lago's evaluator (getlago/lago-expression, expression-core/src/evaluate.rs,
and lago-api app/services/events/calculate_expression_service.rb):
  * ``event.timestamp`` is the event time in whole Unix seconds (lago-api passes
    ``event.timestamp.to_i``), so fractions of a second are dropped (floor).
  * A property is a number when its text is one (Lago parses strings as BigDecimal), else
    text. Tally reads a number as ``-?digits[.digits]`` (the project's ``numeric_or_null``
    rule, at most 28 integer digits), as DECIMAL(38, 10). In arithmetic, comparisons with
    numbers and ROUND/CEIL/FLOOR a property that is not a number, or is missing, gives NULL
    where Lago fails the evaluation.
  * Arithmetic is exact decimal arithmetic. Lago divides BigDecimals to 100 digits; Tally
    rounds each product and each quotient to 10 decimals, half away from zero, identically on
    both warehouses. Division by zero gives NULL (Lago fails).
  * ROUND rounds half away from zero (Lago's RoundingMode::HalfUp), CEIL toward +infinity,
    FLOOR toward -infinity, at d decimals (default 0; d may be negative, from -10 to 10).
  * CONCAT writes text as is, and numbers (a numeric property included, as Lago re-reads it
    as a number) without trailing zeros: ``CONCAT(1.50, '/', event.properties.n)`` with
    n = "007" gives ``1.5/7``. A missing property makes the whole CONCAT NULL.
  * Text can only meet text with ``=`` / ``!=``; two properties compare as numbers when both
    are numbers, else as text. Lago's own language has no comparisons, AND/OR/NOT or CASE:
    these are Tally's extension.
  * A result that does not fit DECIMAL(38, 10) is NULL rather than an error. DuckDB has no
    wider exact type, so there a product of two non-integer operands (properties, decimals)
    of 10^18 or more, or a dividend of 1.7 * 10^17 or more, is NULL too; the output is wrapped
    in DuckDB's TRY() so that an overflow never fails a run.
"""
from __future__ import annotations

import re
from typing import Literal

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, SqlglotError, TokenError
from sqlglot.tokens import TokenType

__all__ = ["ExpressionError", "parse_expression", "to_sql", "result_type", "MAX_LENGTH", "MAX_DEPTH"]

MAX_LENGTH = 1000          # characters
MAX_DEPTH = 40             # levels of the syntax tree
MAX_PARENTHESES = 20       # nested parentheses (checked before parsing)
MAX_INTEGER_DIGITS = 28    # DECIMAL(38, 10)
SCALE = 10
MIN_DECIMALS, MAX_DECIMALS = -SCALE, SCALE

Target = Literal["duckdb", "postgres"]
TARGETS = ("duckdb", "postgres")

# name -> (fewest, most) arguments; None: no limit
FUNCTIONS = {"CONCAT": (1, None), "ROUND": (1, 2), "CEIL": (1, 2), "FLOOR": (1, 2)}

ALLOWED = ("numbers, 'text', + - * /, comparisons, AND/OR/NOT, CASE WHEN, CONCAT, ROUND, CEIL, "
           "FLOOR, event.timestamp and event.properties.<name>")

_NUMBER_LITERAL = re.compile(r"([0-9]+)(?:\.([0-9]+))?")
_PROPERTY_NAME = re.compile(r"[A-Za-z0-9_]+")
_NUMERIC_TEXT = "-?[0-9]{1,28}([.][0-9]+)?"   # a property's text that reads as a number

# kinds of value
NUM, STR, BOOL, PROP = "number", "text", "boolean", "property"

_ARITHMETIC = {exp.Add: "+", exp.Sub: "-", exp.Mul: "*", exp.Div: "/"}
_COMPARISONS = {exp.EQ: "=", exp.NEQ: "<>", exp.LT: "<", exp.LTE: "<=", exp.GT: ">", exp.GTE: ">="}
_ORDERING = {exp.LT, exp.LTE, exp.GT, exp.GTE}
_ROUNDING = {exp.Round: "ROUND", exp.Ceil: "CEIL", exp.Floor: "FLOOR"}
_CASTS = {"CAST", "TRY_CAST", "SAFE_CAST", "CONVERT"}


class ExpressionError(ValueError):
    """An expression that is not allowed or not valid; the message is one line."""


# -- checking -------------------------------------------------------------------------------
def _snippet(node: exp.Expression) -> str:
    try:
        text = node.sql()
    except Exception:  # noqa: BLE001 - only for the message
        text = node.key
    text = " ".join(text.split())
    return text if len(text) <= 60 else text[:57] + "..."


_STATEMENTS = tuple(getattr(exp, name) for name in (
    "DDL", "DML", "Command", "Drop", "Block", "TruncateTable", "Set", "Pragma", "Use", "Transaction",
    "Commit", "Rollback", "Describe", "Show", "Copy", "Attach", "Detach", "Install") if hasattr(exp, name))


def _not_allowed(node: exp.Expression) -> ExpressionError:
    """The error for a node outside the allow-list, worded by what it is."""
    snippet = _snippet(node)
    if isinstance(node, (exp.Select, exp.Subquery, exp.SetOperation, exp.Exists, exp.Query)):
        return ExpressionError(f"subqueries and SELECT are not allowed: {snippet}")
    if isinstance(node, _STATEMENTS):
        return ExpressionError(f"statements are not allowed: {snippet}")
    if isinstance(node, (exp.Cast, exp.TryCast)):
        return ExpressionError(f"casts are not allowed: {snippet}")
    if isinstance(node, exp.Window):
        return ExpressionError(f"window functions are not allowed: {snippet}")
    if isinstance(node, exp.Star):
        return ExpressionError("* is not allowed")
    if isinstance(node, (exp.Placeholder, exp.Parameter, exp.SessionParameter)):
        return ExpressionError(f"parameters and placeholders are not allowed: {snippet}")
    if isinstance(node, exp.Func) and not isinstance(node, exp.Case):
        name = node.name if isinstance(node, exp.Anonymous) else node.sql_name()
        return ExpressionError(f"function {name.upper()}() is not allowed: only CONCAT, ROUND, CEIL and FLOOR")
    return ExpressionError(f"{type(node).__name__.upper()} is not allowed: {snippet}; "
                           f"an expression may use only {ALLOWED}")


class _Checker:
    """Walks the tree with an allow-list of node types and works out the kind of each value."""

    def __init__(self) -> None:
        self.kinds: dict[int, str] = {}

    def check(self, node: exp.Expression) -> str:
        if not isinstance(node, exp.Expression):
            raise ExpressionError(f"unexpected element {node!r}; an expression may use only {ALLOWED}")
        if node.comments:
            raise ExpressionError("comments are not allowed")
        kind = self._check(node)
        self.kinds[id(node)] = kind
        return kind

    @staticmethod
    def _only(node: exp.Expression, expressions: set[str], flags: set[str] = frozenset()) -> None:
        """Every argument set on `node` is one we walk (`expressions`) or a plain flag."""
        for key, value in node.args.items():
            if value is None or value is False or value == []:
                continue
            if key in expressions:
                continue
            if key in flags and not isinstance(value, (exp.Expression, list)):
                continue
            raise _not_allowed(node)

    def _check(self, node: exp.Expression) -> str:  # noqa: C901 - one branch per allowed type
        t = type(node)
        if t is exp.Paren:
            self._only(node, {"this"})
            return self.check(node.this)
        if t is exp.Literal:
            self._only(node, {"this"}, {"is_string"})
            if node.is_string:
                if "\x00" in node.this:
                    raise ExpressionError("text literals must not contain NUL characters")
                return STR
            _number_literal(node.this)
            return NUM
        if t is exp.Column:
            return self._column(node)
        if t in _ARITHMETIC:
            self._only(node, {"this", "expression"}, {"typed", "safe"})
            self._number_operand(node.this, node)
            self._number_operand(node.expression, node)
            return NUM
        if t is exp.Neg:
            self._only(node, {"this"})
            self._number_operand(node.this, node)
            return NUM
        if t in _COMPARISONS:
            self._only(node, {"this", "expression"})
            return self._comparison(node)
        if t in (exp.And, exp.Or):
            self._only(node, {"this", "expression"})
            for side in (node.this, node.expression):
                if self.check(side) != BOOL:
                    raise ExpressionError(f"{t.__name__.upper()} needs conditions on both sides, "
                                          f"got {_snippet(side)}")
            return BOOL
        if t is exp.Not:
            self._only(node, {"this"})
            if self.check(node.this) != BOOL:
                raise ExpressionError(f"NOT needs a condition, got {_snippet(node.this)}")
            return BOOL
        if t is exp.Case:
            return self._case(node)
        if t is exp.Concat:
            self._only(node, {"expressions"}, {"safe", "coalesce"})
            if not node.expressions:
                raise ExpressionError("CONCAT needs at least 1 argument")
            for arg in node.expressions:
                if self.check(arg) == BOOL:
                    raise ExpressionError(f"CONCAT cannot take a condition: {_snippet(arg)}")
            return STR
        if t in _ROUNDING:
            self._only(node, {"this", "decimals"})
            self._number_operand(node.this, node)
            decimals = node.args.get("decimals")
            if decimals is not None:
                _decimals(decimals, _ROUNDING[t])
                self.kinds[id(decimals)] = NUM
            return NUM
        raise _not_allowed(node)

    def _column(self, node: exp.Column) -> str:
        self._only(node, {"this", "table", "db", "catalog"})
        parts = [node.args.get(k) for k in ("catalog", "db", "table", "this")]
        parts = [p for p in parts if p is not None]
        dotted = ".".join(p.name if isinstance(p, exp.Identifier) else _snippet(p) for p in parts)
        if dotted.startswith(("$", ":", "@")):
            raise ExpressionError(f"parameters and placeholders are not allowed: {dotted}")
        if not all(isinstance(p, exp.Identifier) and isinstance(p.this, str) for p in parts):
            raise _not_allowed(node) if not any(isinstance(p, exp.Star) for p in parts) \
                else ExpressionError(f"* is not allowed: {dotted}")
        for p in parts:
            self._only(p, set(), {"this", "quoted"})
            if p.comments:
                raise ExpressionError("comments are not allowed")
        plain = [p.name if not p.quoted else None for p in parts]
        if len(parts) == 2 and plain[0] == "event" and plain[1] in ("timestamp", "code"):
            if plain[1] == "code":
                return STR
            return NUM
        if len(parts) == 3 and plain[0] == "event" and plain[1] == "properties":
            name = parts[2].name
            if not _PROPERTY_NAME.fullmatch(name):
                raise ExpressionError(f"property name {name!r} is not allowed: use letters, digits and _")
            return PROP
        raise ExpressionError(f"column {dotted} is not allowed: only event.timestamp and "
                              "event.properties.<name> can be read")

    def _number_operand(self, operand: exp.Expression, parent: exp.Expression) -> None:
        kind = self.check(operand)
        if kind == STR:
            raise ExpressionError(f"text cannot be used as a number: {_snippet(operand)} in {_snippet(parent)}")
        if kind == BOOL:
            raise ExpressionError(f"a condition cannot be used as a number: {_snippet(operand)}")

    def _comparison(self, node: exp.Expression) -> str:
        a, b = self.check(node.this), self.check(node.expression)
        if BOOL in (a, b):
            raise ExpressionError(f"conditions cannot be compared: {_snippet(node)}")
        if STR in (a, b):
            if NUM in (a, b):
                raise ExpressionError(f"text cannot be compared with a number: {_snippet(node)}")
            if type(node) in _ORDERING:
                raise ExpressionError(f"text can only be compared with = or !=: {_snippet(node)}")
        return BOOL

    def _case(self, node: exp.Case) -> str:
        if node.args.get("this") is not None:
            raise ExpressionError("CASE <value> WHEN ... is not supported: write CASE WHEN <condition> THEN ...")
        self._only(node, {"ifs", "default"})
        branches = []
        for when in node.args.get("ifs") or []:
            if type(when) is not exp.If:
                raise _not_allowed(when)
            self._only(when, {"this", "true"})
            if when.comments:
                raise ExpressionError("comments are not allowed")
            if self.check(when.this) != BOOL:
                raise ExpressionError(f"CASE WHEN needs a condition, got {_snippet(when.this)}")
            branches.append(when.args["true"])
        if not branches:
            raise ExpressionError("CASE needs at least one WHEN")
        if node.args.get("default") is not None:
            branches.append(node.args["default"])
        kinds = {self.check(b) for b in branches}
        if BOOL in kinds:
            if kinds != {BOOL}:
                raise ExpressionError(f"CASE mixes conditions with values: {_snippet(node)}")
            return BOOL
        if STR in kinds:
            return STR
        if NUM in kinds:
            return NUM
        return PROP


def _number_literal(text: str) -> None:
    m = _NUMBER_LITERAL.fullmatch(text)
    if not m:
        raise ExpressionError(f"number {text} is not allowed: write digits with an optional fraction, like 12 or 3.5")
    if len(m.group(1).lstrip("0")) > MAX_INTEGER_DIGITS or len(m.group(2) or "") > SCALE:
        raise ExpressionError(f"number {text} is out of range: at most {MAX_INTEGER_DIGITS} digits "
                              f"before the point and {SCALE} after")


def _decimals(node: exp.Expression, function: str) -> int:
    """The number of decimals of ROUND/CEIL/FLOOR: a whole number literal, maybe negative."""
    sign, inner = 1, node
    if type(inner) is exp.Neg:
        sign, inner = -1, inner.this
    if type(inner) is not exp.Literal or inner.is_string or not re.fullmatch("[0-9]+", inner.this) \
            or node.comments or inner.comments:
        raise ExpressionError(f"the decimals of {function} must be a whole number, got {_snippet(node)}")
    value = sign * int(inner.this)
    if not MIN_DECIMALS <= value <= MAX_DECIMALS:
        raise ExpressionError(f"the decimals of {function} must be between {MIN_DECIMALS} and "
                              f"{MAX_DECIMALS}, got {value}")
    return value


def _pre_check(text: str) -> int:
    """Checks on the raw text and its tokens, before anything is parsed.

    Returns how many calls of the allowed functions the text makes (sqlglot drops surplus
    arguments silently and knows aliases such as CEILING, so calls are checked on the tokens).
    """
    if len(text) > MAX_LENGTH:
        raise ExpressionError(f"expression is too long ({len(text)} characters, at most {MAX_LENGTH})")
    if not text.strip():
        raise ExpressionError("expression is empty")
    if any((ord(c) < 32 and c not in "\t\n\r") or ord(c) == 127 for c in text):
        raise ExpressionError("control characters are not allowed")
    if "--" in text or "/*" in text or "*/" in text:
        raise ExpressionError("comments (-- or /* */) are not allowed")
    try:
        tokens = sqlglot.tokenize(text)
    except (TokenError, SqlglotError) as exc:
        raise ExpressionError(f"syntax error: {_first_line(exc)}") from None
    # Each open parenthesis: [function name or None, complete arguments, tokens in the current one]
    stack: list[list] = []
    calls = 0
    for i, tok in enumerate(tokens):
        if tok.comments:
            raise ExpressionError("comments are not allowed")
        tt = tok.token_type
        if tt == TokenType.SEMICOLON:
            raise ExpressionError("multiple statements (;) are not allowed")
        if tt in (TokenType.PLACEHOLDER, TokenType.PARAMETER) or (
                tt != TokenType.STRING and tok.text.startswith(("$", "?", "@"))):
            raise ExpressionError(f"parameters and placeholders are not allowed: {tok.text}")
        if tt == TokenType.COMMA:
            if stack:
                name, args, current = stack[-1]
                if name is not None and current == 0:
                    raise ExpressionError(f"{name} has an empty argument")
                stack[-1][1], stack[-1][2] = args + 1, 0
            continue
        if tt == TokenType.R_PAREN:
            if not stack:
                raise ExpressionError("unbalanced parentheses: ')' without '('")
            name, args, current = stack.pop()
            if name is not None:
                if args and not current:
                    raise ExpressionError(f"{name} has an empty argument")
                count = args + (1 if current else 0)
                low, high = FUNCTIONS[name]
                if count < low or (high is not None and count > high):
                    want = (f"at least {low}" if high is None else
                            str(low) if high == low else f"{low} or {high}")
                    raise ExpressionError(f"{name} takes {want} argument(s), got {count}")
            continue
        if stack:
            stack[-1][2] += 1
        if tt == TokenType.L_PAREN:
            prev = tokens[i - 1] if i else None
            name = prev.text.upper() if prev is not None and prev.token_type != TokenType.STRING else None
            if prev is not None and prev.token_type == TokenType.IDENTIFIER:
                raise ExpressionError(f'quoted function names are not allowed: "{prev.text}"(...)')
            if prev is not None and prev.token_type == TokenType.VAR and name in _CASTS:
                raise ExpressionError(f"casts are not allowed: {prev.text}(...)")
            if prev is not None and prev.token_type == TokenType.VAR and name not in FUNCTIONS:
                raise ExpressionError(f"function {prev.text}() is not allowed: only CONCAT, ROUND, CEIL and FLOOR")
            if name in FUNCTIONS:
                calls += 1
            stack.append([name if name in FUNCTIONS else None, 0, 0])
            if len(stack) > MAX_PARENTHESES:
                raise ExpressionError(f"expression is nested too deeply (more than {MAX_PARENTHESES} "
                                      "levels of parentheses)")
    if stack:
        raise ExpressionError("unbalanced parentheses: '(' without ')'")
    return calls


def _first_line(exc: Exception) -> str:
    if isinstance(exc, ParseError) and exc.errors:
        err = exc.errors[0]
        desc = str(err.get("description") or "invalid expression").splitlines()[0]
        if "missing for" in desc and "Column" in desc:
            desc = ("a name is missing after a dot (quote a property named like an SQL keyword: "
                    'event.properties."select")')
        col = err.get("col")
        return f"{desc} (near character {col})" if col else desc
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def _depth(node: exp.Expression) -> int:
    """Depth of the tree, without recursion (a long chain must not exhaust the stack)."""
    deepest, todo = 0, [(node, 1)]
    while todo:
        current, depth = todo.pop()
        deepest = max(deepest, depth)
        if deepest > MAX_DEPTH:
            break
        for value in current.args.values():
            for child in value if isinstance(value, list) else [value]:
                if isinstance(child, exp.Expression):
                    todo.append((child, depth + 1))
    return deepest


def _analyze(text: str) -> tuple[exp.Expression, _Checker]:
    if not isinstance(text, str):
        raise ExpressionError(f"expression must be text, got {type(text).__name__}")
    calls = _pre_check(text)
    try:
        tree = sqlglot.parse_one(text)
    except RecursionError:
        raise ExpressionError("expression is nested too deeply") from None
    except (ParseError, TokenError, SqlglotError) as exc:
        raise ExpressionError(f"syntax error: {_first_line(exc)}") from None
    if tree is None:
        raise ExpressionError("expression is empty")
    if _depth(tree) > MAX_DEPTH:
        raise ExpressionError(f"expression is nested too deeply (more than {MAX_DEPTH} levels)")
    checker = _Checker()
    checker.check(tree)
    if sum(1 for node in tree.walk() if type(node) in (exp.Concat, *_ROUNDING)) != calls:
        raise ExpressionError("functions must be written as CONCAT(...), ROUND(...), CEIL(...) or FLOOR(...)")
    return tree, checker


def parse_expression(text: str) -> exp.Expression:
    """Parse and check a Lago billable metric expression; raises ExpressionError if not allowed."""
    return _analyze(text)[0]


def result_type(text: str) -> str:
    """What to_sql gives: "number" (DECIMAL(38, 10)), "text" or "boolean"."""
    tree, checker = _analyze(text)
    kind = checker.kinds[id(tree)]
    return STR if kind == PROP else kind


# -- rendering ------------------------------------------------------------------------------
class _Renderer:
    def __init__(self, target: str, kinds: dict[int, str], metric_code: str | None):
        self.duck = target == "duckdb"
        self.kinds = kinds
        self.metric_code = metric_code

    def kind(self, node: exp.Expression) -> str:
        return self.kinds[id(node)]

    # leaves
    def string(self, value: str) -> str:
        if not self.duck and "\\" in value:
            # an escape string reads the same whatever standard_conforming_strings says
            body = value.replace("\\", "\\\\").replace("'", "''")
            return f"cast(E'{body}' as varchar)"
        return "cast('" + value.replace("'", "''") + "' as varchar)"

    def prop_text(self, name: str) -> str:
        return (f"json_extract_string(properties, '$.\"{name}\"')" if self.duck
                else f"(properties ->> '{name}')")

    def is_numeric_text(self, text: str) -> str:
        return (f"regexp_full_match({text}, '{_NUMERIC_TEXT}')" if self.duck
                else f"({text} ~ '^{_NUMERIC_TEXT}$')")

    def prop_number(self, name: str) -> str:
        t = self.prop_text(name)
        return f"(case when {self.is_numeric_text(t)} then cast({t} as decimal(38, 10)) end)"

    def number_as_text(self, number_sql: str) -> str:
        """A number without trailing zeros: 1.5, 3, -0.25."""
        if self.duck:
            return f"regexp_replace(cast(cast({number_sql} as decimal(38, 10)) as varchar), '[.]?0+$', '')"
        return f"cast(trim_scale(cast({number_sql} as numeric)) as varchar)"

    def prop_canonical(self, name: str) -> str:
        t = self.prop_text(name)
        return (f"(case when {self.is_numeric_text(t)} then "
                f"{self.number_as_text(f'cast({t} as decimal(38, 10))')} else {t} end)")

    def timestamp(self) -> str:
        if self.duck:
            return "cast(epoch(date_trunc('second', event_timestamp)) as decimal(38, 0))"
        return "floor(extract(epoch from event_timestamp))"

    def number_literal(self, text: str) -> str:
        if "." in text:
            return text
        return f"cast({text} as decimal(38, 0))" if self.duck else f"cast({text} as numeric)"

    @staticmethod
    def _unwrap(node: exp.Expression) -> exp.Expression:
        while type(node) is exp.Paren:
            node = node.this
        return node

    def _property_name(self, node: exp.Expression) -> str | None:
        node = self._unwrap(node)
        if type(node) is exp.Column and node.args.get("db") is not None:
            return node.name
        return None

    # values by context
    def num(self, node: exp.Expression) -> str:
        t = type(node)
        if t is exp.Paren:
            return self.num(node.this)
        if t is exp.Literal:
            return self.number_literal(node.this)
        if t is exp.Column:
            name = self._property_name(node)
            return self.prop_number(name) if name is not None else self.timestamp()
        if t in (exp.Add, exp.Sub):
            return f"({self.num(node.this)} {_ARITHMETIC[t]} {self.num(node.expression)})"
        if t is exp.Mul:
            a, b = self.num(node.this), self.num(node.expression)
            return f"cast(({a} * {b}) as decimal(38, 10))" if self.duck else f"round(({a} * {b}), 10)"
        if t is exp.Div:
            return self.divide(self.num(node.this), self.num(node.expression))
        if t is exp.Neg:
            return f"(-{self.num(node.this)})"
        if t in _ROUNDING:
            decimals = node.args.get("decimals")
            d = _decimals(decimals, _ROUNDING[t]) if decimals is not None else 0
            return self.rounding(t, self.num(node.this), d)
        if t is exp.Case:
            return self.case(node, self.num_branch)
        raise ExpressionError(f"not a number: {_snippet(node)}")  # the checker makes this unreachable

    def num_branch(self, node: exp.Expression) -> str:
        return f"cast({self.num(node)} as decimal(38, 10))" if self.duck else self.num(node)

    def divide(self, a: str, b: str) -> str:
        """a / b, exact, rounded half away from zero at 10 decimals; NULL when b = 0.

        The quotient is truncated at 11 decimals, then rounded at 10: the same as rounding the
        exact quotient, since truncation cannot move a value across the half-way point.
        """
        if self.duck:
            scaled_a = f"cast(cast({a} as decimal(38, 10)) * 10000000000 as hugeint)"
            scaled_b = f"cast(cast({b} as decimal(38, 10)) * 10000000000 as hugeint)"
            return (f"cast(cast(({scaled_a} * 100000000000) // nullif({scaled_b}, 0) as decimal(38, 0))"
                    f" * 0.00000000001 as decimal(38, 10))")
        return (f"round(div(cast({a} as numeric) * 100000000000, nullif(cast({b} as numeric), 0))"
                f" * 0.00000000001, 10)")

    def rounding(self, t: type, x: str, d: int) -> str:
        x = f"cast({x} as decimal(38, 10))" if self.duck else f"cast({x} as numeric)"
        if t is exp.Round:
            return f"round({x}, {d})"
        fn = "ceil" if t is exp.Ceil else "floor"
        if d == 0:
            return f"{fn}({x})"
        up, down = _power_of_ten(d), _power_of_ten(-d)
        return f"({fn}({x} * {up}) * {down})"

    def text(self, node: exp.Expression) -> str:
        """The value as text, as CONCAT writes it."""
        t = type(node)
        if t is exp.Paren:
            return self.text(node.this)
        kind = self.kind(node)
        if t is exp.Literal and node.is_string:
            return self.string(node.this)
        if t is exp.Column:
            name = self._property_name(node)
            if name is not None:
                return self.prop_canonical(name)
            if node.name == "code":
                return self.code()
        if t is exp.Concat:
            return "(" + " || ".join(self.text(arg) for arg in node.expressions) + ")"
        if t is exp.Case and kind != NUM:
            return self.case(node, self.text)
        if kind == NUM:
            return self.number_as_text(self.num(node))
        if kind == BOOL:
            return f"cast({self.cond(node)} as varchar)"
        raise ExpressionError(f"not text: {_snippet(node)}")  # unreachable

    def raw(self, node: exp.Expression) -> str:
        """Text as stored, for comparisons: a property's own text, without rewriting numbers."""
        t = type(node)
        if t is exp.Paren:
            return self.raw(node.this)
        if t is exp.Column and self._property_name(node) is not None:
            return self.prop_text(self._property_name(node))
        if t is exp.Case and self.kind(node) == PROP:
            return self.case(node, self.raw)
        return self.text(node)

    def code(self) -> str:
        if self.metric_code is None:
            raise ExpressionError("event.code needs the billable metric's code: pass metric_code to to_sql")
        if "\x00" in self.metric_code:
            raise ExpressionError("the metric code must not contain NUL characters")
        return self.string(self.metric_code)

    def cond(self, node: exp.Expression) -> str:
        t = type(node)
        if t is exp.Paren:
            return self.cond(node.this)
        if t in (exp.And, exp.Or):
            op = "and" if t is exp.And else "or"
            return f"({self.cond(node.this)} {op} {self.cond(node.expression)})"
        if t is exp.Not:
            return f"(not {self.cond(node.this)})"
        if t is exp.Case:
            return self.case(node, self.cond)
        if t in _COMPARISONS:
            return self.compare(node)
        raise ExpressionError(f"not a condition: {_snippet(node)}")  # unreachable

    def compare(self, node: exp.Expression) -> str:
        op = _COMPARISONS[type(node)]
        a, b = node.this, node.expression
        ka, kb = self.kind(a), self.kind(b)
        if STR in (ka, kb):
            return f"({self.raw(a)} {op} {self.raw(b)})"
        name_a, name_b = self._property_name(a), self._property_name(b)
        if ka == kb == PROP and type(node) not in _ORDERING:
            if name_a is not None and name_b is not None:
                ta, tb = self.prop_text(name_a), self.prop_text(name_b)
                return (f"(case when {self.is_numeric_text(ta)} and {self.is_numeric_text(tb)} "
                        f"then {self.prop_number(name_a)} {op} {self.prop_number(name_b)} "
                        f"else {ta} {op} {tb} end)")
            return f"({self.raw(a)} {op} {self.raw(b)})"
        return f"({self.num(a)} {op} {self.num(b)})"

    def case(self, node: exp.Case, branch) -> str:
        parts = ["case"]
        for when in node.args["ifs"]:
            parts.append(f"when {self.cond(when.this)} then {branch(when.args['true'])}")
        if node.args.get("default") is not None:
            parts.append(f"else {branch(node.args['default'])}")
        parts.append("end")
        return "(" + " ".join(parts) + ")"


def _power_of_ten(d: int) -> str:
    """10**d as an exact literal: 100 for 2, 0.01 for -2."""
    return "1" + "0" * d if d >= 0 else "0." + "0" * (-d - 1) + "1"


def to_sql(text: str, target: Target, *, metric_code: str | None = None, as_text: bool = False) -> str:
    """The checked expression as one SQL expression for `target` ("duckdb" or "postgres").

    It reads only the columns ``properties`` and ``event_timestamp``. Its type is given by
    result_type(): DECIMAL(38, 10) for a number, text, or boolean; a bare property (or a CASE
    choosing between properties) is text. With ``as_text`` every result is text, numbers
    without trailing zeros (how Lago writes a value into ``event.properties``).
    ``metric_code`` is the value of ``event.code``.
    """
    if target not in TARGETS:
        raise ValueError(f"target must be one of {', '.join(TARGETS)}, got {target!r}")
    tree, checker = _analyze(text)
    r = _Renderer(target, checker.kinds, metric_code)
    kind = checker.kinds[id(tree)]
    if as_text or kind in (STR, PROP):
        sql = r.text(tree)
    elif kind == BOOL:
        sql = r.cond(tree)
    elif r.duck:
        sql = f"cast({r.num(tree)} as decimal(38, 10))"
    else:
        number = r.num(tree)
        sql = f"(case when abs({number}) < 1e28 then cast({number} as decimal(38, 10)) end)"
    if r.duck:
        sql = f"try({sql})"   # an overflow is NULL, not a failed run
    if "--" in sql or "/*" in sql:  # cannot happen: literals are checked, operators parenthesised
        raise ExpressionError("expression could not be translated safely")
    return sql
