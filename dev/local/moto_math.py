"""Metric math and SEARCH in moto's GetMetricData (imported by moto_cloudwatch.py).

moto answers an expression query only when the expression is the id of another query. What
regionsync's dashboards and alarms use is evaluated here, as CloudWatch does:

* arithmetic over query ids and numbers (`visible + inFlight`,
  `100 * (errors + throttles) / (invocations + throttles)`): per timestamp, on the timestamps every
  operand has; a division by zero leaves the point out;
* `SEARCH('terms', 'Stat', period)`: one time series per stored metric the terms match.
  `{Namespace,Dim1,...}` names the namespace and the exact set of dimension names;
  `Key="value"` matches Namespace, MetricName or a dimension exactly; a bare word matches when it
  is part of the namespace, the metric name, a dimension name or value (CloudWatch matches whole
  tokens; close enough for names made of the app and table names);
* `SUM`, `AVG`, `MIN`, `MAX` of an array of series (per timestamp) or of one series (itself).

Anything else fails the query with a ValidationError that names the expression.
"""

import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

from moto.cloudwatch import models as _cw
from moto.cloudwatch.exceptions import ValidationError

Series = dict[datetime, float]
# A value: a number, one series, or an array of labelled series (what SEARCH gives).
Value = float | Series | list[tuple[str, Series]]

_TOKEN = re.compile(r"\s*(?:(\d+(?:\.\d+)?)|([A-Za-z_][A-Za-z0-9_]*)|('(?:[^'\\]|\\.)*')|(.))")
_FUNCTIONS: dict[str, Callable[[list[float]], float]] = {
    "SUM": sum,
    "AVG": lambda v: sum(v) / len(v),
    "MIN": min,
    "MAX": max,
}


class _Parser:
    """Recursive descent over + - * / ( ) , numbers, ids, strings and function calls."""

    def __init__(self, expression: str, resolve: Callable[[str], Value], search: Callable[[str, str, int], Value]):
        self.expression = expression
        self.tokens = [m.groups() for m in _TOKEN.finditer(expression) if any(m.groups())]
        self.pos = 0
        self.resolve = resolve
        self.search = search

    def fail(self, why: str) -> ValidationError:
        return ValidationError(f"Metric math expression {self.expression!r}: {why}")

    def peek(self) -> tuple[str | None, ...] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self, op: str | None = None) -> tuple[str | None, ...]:
        tok = self.peek()
        if tok is None or (op is not None and tok[3] != op):
            raise self.fail(f"expected {op or 'more'} at token {self.pos + 1}")
        self.pos += 1
        return tok

    def parse(self) -> Value:
        v = self.sum()
        if self.peek() is not None:
            raise self.fail(f"unexpected {''.join(t or '' for t in self.peek() or ())!r}")
        return v

    def sum(self) -> Value:
        v = self.product()
        while (tok := self.peek()) and tok[3] in ("+", "-"):
            self.take()
            v = _combine(v, self.product(), (lambda a, b: a + b) if tok[3] == "+" else (lambda a, b: a - b))
        return v

    def product(self) -> Value:
        v = self.unary()
        while (tok := self.peek()) and tok[3] in ("*", "/"):
            self.take()
            v = _combine(v, self.unary(), (lambda a, b: a * b) if tok[3] == "*" else _divide)
        return v

    def unary(self) -> Value:
        tok = self.peek()
        if tok and tok[3] == "-":
            self.take()
            return _combine(-1.0, self.unary(), lambda a, b: a * b)
        return self.atom()

    def atom(self) -> Value:
        number, name, string, op = self.take()
        if number is not None:
            return float(number)
        if op == "(":
            v = self.sum()
            self.take(")")
            return v
        if name is None:
            raise self.fail(f"unexpected {string or op!r}")
        nxt = self.peek()
        if not (nxt and nxt[3] == "("):
            return self.resolve(name)
        self.take("(")
        fn = name.upper()
        if fn == "SEARCH":
            terms = self.string()
            self.take(",")
            stat = self.string()
            self.take(",")
            period = self.take()[0]
            self.take(")")
            if period is None:
                raise self.fail("SEARCH's period must be a number of seconds")
            return self.search(terms, stat, int(float(period)))
        if fn not in _FUNCTIONS:
            raise self.fail(f"function {name} is not emulated (SEARCH, {', '.join(_FUNCTIONS)} are)")
        arg = self.sum()
        self.take(")")
        return _reduce(arg, _FUNCTIONS[fn])

    def string(self) -> str:
        tok = self.take()
        if tok[2] is None:
            raise self.fail("expected a quoted string")
        return re.sub(r"\\(.)", r"\1", tok[2][1:-1])


def _divide(a: float, b: float) -> float | None:
    return None if b == 0 else a / b


def _combine(a: Value, b: Value, op: Callable[[float, float], float | None]) -> Value:
    if isinstance(a, list):
        return [(label, _combine(s, b, op)) for label, s in a]  # type: ignore[misc]
    if isinstance(b, list):
        return [(label, _combine(a, s, op)) for label, s in b]  # type: ignore[misc]
    if isinstance(a, dict) and isinstance(b, dict):
        pairs = {t: op(a[t], b[t]) for t in a.keys() & b.keys()}
    elif isinstance(a, dict):
        pairs = {t: op(v, b) for t, v in a.items()}  # type: ignore[arg-type]
    elif isinstance(b, dict):
        pairs = {t: op(a, v) for t, v in b.items()}
    else:
        r = op(a, b)
        return float("nan") if r is None else r
    return {t: v for t, v in pairs.items() if v is not None}


def _reduce(v: Value, fn: Callable[[list[float]], float]) -> Value:
    if not isinstance(v, list):
        return v
    by_time: dict[datetime, list[float]] = {}
    for _, s in v:
        for t, x in s.items():
            by_time.setdefault(t, []).append(x)
    return {t: fn(xs) for t, xs in by_time.items()}


_SCHEMA = re.compile(r"\{([^}]*)\}")
_PAIR = re.compile(r'([A-Za-z0-9_.:/-]+)\s*=\s*"((?:[^"\\]|\\.)*)"')


def _search_matcher(terms: str) -> Callable[[Any], bool]:
    schema = _SCHEMA.search(terms)
    rest = _SCHEMA.sub(" ", terms)
    pairs = _PAIR.findall(rest)
    words = [w for w in _PAIR.sub(" ", rest).split() if w]
    schema_ns, schema_dims = None, None
    if schema:
        parts = [p.strip().strip('"') for p in schema.group(1).split(",")]
        schema_ns, schema_dims = parts[0], set(parts[1:])

    def matches(md: Any) -> bool:
        dims = {d.name: d.value for d in md.dimensions}
        if schema_ns is not None and (md.namespace != schema_ns or set(dims) != schema_dims):
            return False
        for key, value in pairs:
            if key == "Namespace":
                ok = md.namespace == value
            elif key == "MetricName":
                ok = md.name == value
            else:
                ok = dims.get(key) == value
            if not ok:
                return False
        haystack = [md.namespace, md.name, *dims.keys(), *dims.values()]
        return all(any(w.lower() in (h or "").lower() for h in haystack) for w in words)

    return matches


_original_get_metric_data = _cw.CloudWatchBackend.get_metric_data


def _get_metric_data(
    self: Any,
    queries: list[dict[str, Any]],
    start_time: datetime,
    end_time: datetime,
    scan_by: str = "TimestampAscending",
) -> list[dict[str, Any]]:
    def is_math(q: dict[str, Any]) -> bool:
        return "Expression" in q and not q["Expression"].lstrip().upper().startswith("SELECT")

    if not any(is_math(q) for q in queries):
        return _original_get_metric_data(self, queries, start_time, end_time, scan_by)
    plain = [q for q in queries if not is_math(q)]
    # Every plain query's values, returned or not: expressions read them.
    computed = _original_get_metric_data(self, [{**q, "ReturnData": True} for q in plain], start_time, end_time, scan_by) if plain else []
    values: dict[str, Value] = {r["id"]: dict(zip(r["timestamps"], r["values"])) for r in computed}
    labels = {r["id"]: r["label"] for r in computed}
    out = [r for r in computed if next(q for q in plain if q["Id"] == r["id"]).get("ReturnData", True)]

    def search(terms: str, stat: str, period: int) -> Value:
        matches = _search_matcher(terms)
        found: dict[tuple[Any, ...], Any] = {}
        for md in self.get_all_metrics():
            key = (md.namespace, md.name, tuple(sorted((d.name, d.value) for d in md.dimensions)))
            if key not in found and matches(md):
                found[key] = md
        series: list[tuple[str, Series]] = []
        for i, (namespace, name, dims) in enumerate(sorted(found, key=str)):
            q = {
                "Id": f"search{i}",
                "MetricStat": {
                    "Metric": {"Namespace": namespace, "MetricName": name, "Dimensions": [{"Name": n, "Value": v} for n, v in dims]},
                    "Period": period,
                    "Stat": stat,
                },
            }
            r = _original_get_metric_data(self, [q], start_time, end_time, scan_by)[0]
            series.append((" ".join(v for _, v in dims) or name, dict(zip(r["timestamps"], r["values"]))))
        return series

    pending = [q for q in queries if is_math(q)]
    # Expressions may read other expressions: evaluate in rounds until none is left or none resolves.
    while pending:
        left = []
        for q in pending:

            def resolve(name: str, q: dict[str, Any] = q) -> Value:
                if name not in values:
                    raise KeyError(name)
                return values[name]

            try:
                v = _Parser(q["Expression"], resolve, search).parse()
            except KeyError:
                left.append(q)
                continue
            values[q["Id"]] = v
            labels[q["Id"]] = q.get("Label") or q["Id"]
            if not q.get("ReturnData", True):
                continue
            if isinstance(v, list):
                for label, s in v:
                    out.append(_result(q["Id"], f"{q['Label']} {label}" if q.get("Label") else label, s, scan_by))
            else:
                out.append(_result(q["Id"], labels[q["Id"]], v if isinstance(v, dict) else {}, scan_by))
        if len(left) == len(pending):
            ids = sorted({q["Id"] for q in queries})
            raise ValidationError(f"Metric math expression {left[0]['Expression']!r} refers to an id that is not in the request (ids: {', '.join(ids)})")
        pending = left
    return out


def _result(qid: str, label: str, series: Series, scan_by: str) -> dict[str, Any]:
    times = sorted(series, reverse=scan_by == "TimestampDescending")
    return {"id": qid, "label": label, "values": [series[t] for t in times], "timestamps": times, "status_code": "Complete"}


_cw.CloudWatchBackend.get_metric_data = _get_metric_data  # type: ignore[method-assign]
