"""CloudWatch: percentiles, exact metric identity, per-query periods, simple metric math.

moto 5.2.4 gaps fixed here:
- GetMetricData with `p95`/`p99` answers HTTP 500 (its Statistics knows five statistics only);
  GetMetricStatistics ignores ExtendedStatistics.
- GetMetricData matches dimensions without the namespace once dimensions are given, and a query
  without dimensions matches any dimensions; CloudWatch identifies a metric by namespace, name and
  the exact dimension set.
- Metric math returns nothing beyond a bare id (`m1`); `100*m1/m2` is what an error-rate gate uses.
- PutMetricData `Values`+`Counts` is expanded into one Python object per count (a minute of ALB
  response times is thousands); stored here as one distribution datum.
- Storage resolution is ignored: every datum is kept at its own timestamp. CloudWatch keeps a custom
  metric published without `StorageResolution: 1` at one-minute resolution, so a sub-minute period
  sees it in whole minutes; here such a datum is stored at its minute. (`AWS/*` data, which only the
  tests' emulated load balancer publishes, is kept as sent: the fast tests' 1-second ALB periods are
  emulator-only by design, test/support/strict/emulator-only.ts.)
- ListMetrics ignores `RecentlyActive`; `PT3H` (its one value) now lists only metrics with a datum
  in the last three hours.

Percentiles are nearest-rank over the raw values (and statistic sets whose Minimum equals Maximum,
as CloudWatch allows); a period with no usable values has no datapoint, as on AWS.
Periods: buckets start at StartTime rounded down to the minute (CloudWatch's rounding for data
younger than 15 days) when the period is a multiple of 60 s; each query uses its own MetricStat.Period.
Metric math: numbers, ids, + - * /, parentheses, unary minus and FILL(expr, number); series are
matched by timestamp; a non-finite result (x/0) has no datapoint.
"""

from __future__ import annotations

import math
import re
from datetime import datetime, timedelta, timezone
from typing import Any

from moto.cloudwatch.exceptions import InvalidParameterCombination, InvalidParameterValue, ValidationError
from moto.cloudwatch.models import CloudWatchBackend, MetricAggregatedDatum, MetricDatum
from moto.cloudwatch.responses import CloudWatchResponse
from moto.core.responses import ActionResult

from ._patching import replace, require

BASIC = ("Sum", "Average", "SampleCount", "Minimum", "Maximum")
PERCENTILE = re.compile(r"^p(100(\.0+)?|\d{1,2}(\.\d+)?)$")


class MetricDistributionDatum(MetricAggregatedDatum):
    """Values+Counts of one PutMetricData entry: a statistic set for moto's own readers, raw
    values for percentiles."""

    def __init__(self, namespace: str, name: str, pairs: list[tuple[float, float]], dimensions: Any, ts: Any, unit: Any):
        super().__init__(
            namespace,
            name,
            min_stat=min(v for v, _ in pairs),
            max_stat=max(v for v, _ in pairs),
            sample_count=sum(c for _, c in pairs),
            sum_stat=sum(v * c for v, c in pairs),
            dimensions=dimensions,
            timestamp=ts,
            unit=unit,
        )
        self.pairs = pairs


def _utc(dt: datetime) -> datetime:
    return dt.replace(tzinfo=timezone.utc) if dt.tzinfo is None else dt.astimezone(timezone.utc)


def _dims_key(dims: Any) -> tuple[tuple[str, str], ...]:
    out = []
    for d in dims or []:
        if isinstance(d, dict):
            out.append((d["Name"], d.get("Value")))
        else:
            out.append((d.name, d.value))
    return tuple(sorted(out))


def _at_storage_resolution(namespace: str, m: dict[str, Any]) -> dict[str, Any]:
    """A custom datum without StorageResolution 1 is kept at one-minute resolution, as CloudWatch does."""
    if namespace.startswith("AWS/") or int(m.get("StorageResolution") or 60) == 1:
        return m
    ts = _utc(m.get("Timestamp") or datetime.now(timezone.utc))
    return {**m, "Timestamp": ts.replace(second=0, microsecond=0)}


def _check_stat(stat: str, param: str) -> None:
    if stat not in BASIC and not PERCENTILE.match(stat):
        raise InvalidParameterValue(
            f"The value {stat} for parameter {param} is not supported by the gray-deploy AWS emulator "
            "(supported: Sum, Average, SampleCount, Minimum, Maximum, pNN, pNN.N)."
        )


def statistic(data: list[Any], stat: str) -> float | None:
    """One statistic over the datums of one period; None when CloudWatch would have no datapoint."""
    total = count = 0.0
    lo, hi = math.inf, -math.inf
    dist: list[tuple[float, float]] = []
    dist_ok = True
    for md in data:
        if isinstance(md, MetricDistributionDatum):
            dist.extend(md.pairs)
        elif isinstance(md, MetricAggregatedDatum):
            if md.min == md.max:
                dist.append((md.min, md.sample_count))
            else:
                dist_ok = False  # a statistic set with a spread has no percentiles on AWS either
        if isinstance(md, MetricAggregatedDatum):
            total += md.sum
            count += md.sample_count
            lo, hi = min(lo, md.min), max(hi, md.max)
        elif isinstance(md, MetricDatum):
            total += md.value
            count += 1
            lo, hi = min(lo, md.value), max(hi, md.value)
            dist.append((md.value, 1.0))
    if count <= 0:
        return None
    if stat == "Sum":
        return total
    if stat == "SampleCount":
        return count
    if stat == "Average":
        return total / count
    if stat == "Minimum":
        return lo
    if stat == "Maximum":
        return hi
    if not dist_ok or not dist:
        return None
    return percentile(dist, float(stat[1:]))


def percentile(pairs: list[tuple[float, float]], p: float) -> float | None:
    """Nearest rank: the smallest value whose cumulative weight reaches p% of the total."""
    items = sorted((v, w) for v, w in pairs if w > 0)
    if not items:
        return None
    if p <= 0:
        return items[0][0]
    target = p / 100.0 * sum(w for _, w in items)
    cumulative = 0.0
    for value, weight in items:
        cumulative += weight
        if cumulative >= target - 1e-9:
            return value
    return items[-1][0]


def _aligned_start(start: datetime, period: int) -> datetime:
    return start.replace(second=0, microsecond=0) if period % 60 == 0 else start.replace(microsecond=0)


def _series(
    backend: CloudWatchBackend,
    namespace: str,
    name: str,
    dims: Any,
    unit: str | None,
    start: datetime,
    end: datetime,
    period: int,
) -> tuple[datetime, dict[int, list[Any]]]:
    if period <= 0:
        raise InvalidParameterValue("The parameter Period must be greater than 0.")
    first = _aligned_start(start, period)
    key = _dims_key(dims)
    buckets: dict[int, list[Any]] = {}
    for md in backend.get_all_metrics():
        if md.namespace != namespace or md.name != name or (unit and md.unit != unit):
            continue
        if _dims_key(md.dimensions) != key:
            continue
        ts = _utc(md.timestamp)
        if first <= ts < end:
            buckets.setdefault(int((ts - first).total_seconds() // period), []).append(md)
    return first, buckets


# --- metric math -----------------------------------------------------------------------------------

_TOKEN = re.compile(r"\s*(?:(\d+(?:\.\d*)?|\.\d+)|([A-Za-z_][A-Za-z0-9_]*)|(.))")

Series = dict[datetime, float]


class _Expr:
    """Recursive-descent evaluator for `100*(m1+m2)/m3`, `FILL(m1, 0)`; values are scalars or series."""

    def __init__(self, text: str, resolve: Any, all_timestamps: list[datetime]):
        self.tokens: list[tuple[str, str]] = []
        for number, ident, other in _TOKEN.findall(text):
            if number:
                self.tokens.append(("num", number))
            elif ident:
                self.tokens.append(("id", ident))
            elif other.strip():
                self.tokens.append(("op", other))
        self.pos = 0
        self.text = text
        self.resolve = resolve
        self.all_timestamps = all_timestamps

    def fail(self, why: str) -> ValidationError:
        return ValidationError(
            f"Error in expression '{self.text}': {why}. The gray-deploy AWS emulator supports ids, "
            "numbers, + - * /, parentheses and FILL(expr, number)."
        )

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self, kind: str, value: str | None = None) -> str:
        tok = self.peek()
        if tok is None or tok[0] != kind or (value is not None and tok[1] != value):
            raise self.fail(f"expected {value or kind}")
        self.pos += 1
        return tok[1]

    def parse(self) -> Any:
        value = self.sum()
        if self.peek() is not None:
            raise self.fail(f"unexpected {self.peek()[1]!r}")  # type: ignore[index]
        return value

    def sum(self) -> Any:
        value = self.product()
        while (tok := self.peek()) and tok in (("op", "+"), ("op", "-")):
            self.pos += 1
            value = _combine(value, self.product(), tok[1])
        return value

    def product(self) -> Any:
        value = self.unary()
        while (tok := self.peek()) and tok in (("op", "*"), ("op", "/")):
            self.pos += 1
            value = _combine(value, self.unary(), tok[1])
        return value

    def unary(self) -> Any:
        if self.peek() == ("op", "-"):
            self.pos += 1
            return _combine(-1.0, self.unary(), "*")
        return self.atom()

    def atom(self) -> Any:
        tok = self.peek()
        if tok is None:
            raise self.fail("unexpected end")
        if tok[0] == "num":
            self.pos += 1
            return float(tok[1])
        if tok == ("op", "("):
            self.pos += 1
            value = self.sum()
            self.take("op", ")")
            return value
        if tok[0] == "id":
            self.pos += 1
            if self.peek() == ("op", "("):
                if tok[1].upper() != "FILL":
                    raise self.fail(f"function {tok[1]} is not supported")
                self.pos += 1
                series = self.sum()
                self.take("op", ",")
                fill = self.sum()
                self.take("op", ")")
                if not isinstance(series, dict) or isinstance(fill, dict):
                    raise self.fail("FILL takes a series and a number")
                return {ts: series.get(ts, fill) for ts in sorted(set(self.all_timestamps) | set(series))}
            return self.resolve(tok[1])
        raise self.fail(f"unexpected {tok[1]!r}")


def _apply(a: float, b: float, op: str) -> float:
    if op == "+":
        return a + b
    if op == "-":
        return a - b
    if op == "*":
        return a * b
    return a / b if b != 0 else math.nan


def _combine(a: Any, b: Any, op: str) -> Any:
    if isinstance(a, dict) and isinstance(b, dict):
        return {ts: _apply(a[ts], b[ts], op) for ts in a if ts in b}
    if isinstance(a, dict):
        return {ts: _apply(v, b, op) for ts, v in a.items()}
    if isinstance(b, dict):
        return {ts: _apply(a, v, op) for ts, v in b.items()}
    return _apply(a, b, op)


# --- the patched backend and response methods ----------------------------------------------------


def install() -> None:
    require(CloudWatchBackend, "_validate_parameters_put_metric_data", ["self", "metric", "query_num"])
    require(CloudWatchBackend, "get_all_metrics", ["self"])
    orig_put = require(CloudWatchBackend, "put_metric_data", ["self", "namespace", "metric_data"])
    orig_get = require(CloudWatchBackend, "get_metric_data", ["self", "queries", "start_time", "end_time", "scan_by"])
    require(CloudWatchResponse, "get_metric_statistics", ["self"])

    def put_metric_data(self: Any, namespace: str, metric_data: list[dict[str, Any]]) -> None:
        for i, metric in enumerate(metric_data):
            self._validate_parameters_put_metric_data(metric, i + 1)
        metric_data = [_at_storage_resolution(namespace, m) for m in metric_data]
        rest = []
        for m in metric_data:
            if not m.get("Values"):
                rest.append(m)
                continue
            values = [float(v) for v in m["Values"]]
            counts = [float(c) for c in (m.get("Counts") or [1.0] * len(values))]
            pairs = [(v, c) for v, c in zip(values, counts) if c > 0]
            if pairs:
                self.metric_data.append(
                    MetricDistributionDatum(
                        namespace, m["MetricName"], pairs, m.get("Dimensions", []), m.get("Timestamp"), m.get("Unit")
                    )
                )
        if rest:
            orig_put(self, namespace, rest)

    def get_metric_data(
        self: Any, queries: list[dict[str, Any]], start_time: datetime, end_time: datetime, scan_by: str = "TimestampAscending"
    ) -> list[dict[str, Any]]:
        start, end = _utc(start_time).replace(microsecond=0), _utc(end_time).replace(microsecond=0)
        if start > end:
            raise ValidationError("The parameter EndTime must be greater than StartTime.")
        if start == end:
            raise ValidationError("The parameter StartTime must not equal parameter EndTime.")
        ids = [q["Id"] for q in queries]
        if len(set(ids)) != len(ids):
            raise ValidationError("The values for parameter id in MetricDataQueries are not unique.")

        computed: dict[str, Series] = {}
        labels: dict[str, str] = {}
        for q in queries:
            if "MetricStat" not in q:
                continue
            ms = q["MetricStat"]
            metric = ms["Metric"]
            stat, period = ms["Stat"], int(ms["Period"])
            _check_stat(stat, "MetricStat.Stat")
            first, buckets = _series(
                self, metric["Namespace"], metric["MetricName"], metric.get("Dimensions"), ms.get("Unit"), start, end, period
            )
            series: Series = {}
            for idx in sorted(buckets):
                value = statistic(buckets[idx], stat)
                if value is not None:
                    series[first + timedelta(seconds=idx * period)] = value
            computed[q["Id"]] = series
            labels[q["Id"]] = q.get("Label") or f"{metric['MetricName']} {stat}"

        all_ts = sorted({ts for s in computed.values() for ts in s})
        expressions = {q["Id"]: q for q in queries if "Expression" in q and not q["Expression"].lstrip().upper().startswith("SELECT")}
        evaluating: set[str] = set()

        def resolve(qid: str) -> Series:
            if qid in computed:
                return computed[qid]
            if qid not in expressions:
                raise ValidationError(f"Unknown id {qid} in a metric math expression.")
            if qid in evaluating:
                raise ValidationError(f"Circular reference through {qid} in metric math expressions.")
            evaluating.add(qid)
            value = _Expr(expressions[qid]["Expression"], resolve, all_ts).parse()
            evaluating.discard(qid)
            if not isinstance(value, dict):  # a constant expression is a constant series
                value = {ts: value for ts in all_ts}
            computed[qid] = {ts: v for ts, v in value.items() if math.isfinite(v)}
            return computed[qid]

        for qid, q in expressions.items():
            resolve(qid)
            labels[qid] = q.get("Label") or qid

        insights = [q for q in queries if "Expression" in q and q["Id"] not in expressions]
        insight_results = {r["id"]: r for r in (orig_get(self, insights, start_time, end_time, scan_by) if insights else [])}

        results = []
        for q in queries:
            if not q.get("ReturnData", True):
                continue
            if q["Id"] in insight_results:
                results.append(insight_results[q["Id"]])
                continue
            points = sorted(computed[q["Id"]].items(), reverse=scan_by == "TimestampDescending")
            results.append(
                {
                    "id": q["Id"],
                    "label": labels[q["Id"]],
                    "values": [v for _, v in points],
                    "timestamps": [ts for ts, _ in points],
                    "status_code": "Complete",
                }
            )
        return results

    def get_metric_statistics(self: Any) -> ActionResult:
        namespace = self._get_param("Namespace")
        name = self._get_param("MetricName")
        start, end = _utc(self._get_param("StartTime")), _utc(self._get_param("EndTime"))
        period = self._get_int_param("Period")
        stats = self._get_param("Statistics", []) or []
        extended = self._get_param("ExtendedStatistics", []) or []
        unit = self._get_param("Unit")
        if not stats and not extended:
            raise InvalidParameterCombination("Must specify either Statistics or ExtendedStatistics")
        for s in stats:
            if s not in BASIC:
                raise InvalidParameterValue(f"The value {s} for parameter Statistics is not supported.")
        for s in extended:
            if not PERCENTILE.match(s):
                raise InvalidParameterValue(f"The value {s} for parameter ExtendedStatistics is not supported.")
        if start >= end:
            raise InvalidParameterValue("The parameter StartTime must be less than the parameter EndTime.")
        first, buckets = _series(
            self.cloudwatch_backend, namespace, name, self._get_param("Dimensions", []), unit, start, end, period
        )
        datapoints = []
        for idx in sorted(buckets):
            data = buckets[idx]
            point: dict[str, Any] = {
                "Timestamp": first + timedelta(seconds=idx * period),
                "Unit": data[0].unit or "None",
            }
            for s in stats:
                point[s] = statistic(data, s)
            if extended:
                ext = {s: statistic(data, s) for s in extended}
                point["ExtendedStatistics"] = {k: v for k, v in ext.items() if v is not None}
            datapoints.append(point)
        return ActionResult({"Label": name, "Datapoints": datapoints})

    orig_list = require(CloudWatchResponse, "list_metrics", ["self"])

    def list_metrics(self: Any) -> ActionResult:
        result = orig_list(self)
        if self._get_param("RecentlyActive") != "PT3H":
            return result
        since = datetime.now(timezone.utc) - timedelta(hours=3)
        recent = {
            (md.namespace, md.name, _dims_key(md.dimensions))
            for md in self.cloudwatch_backend.get_all_metrics()
            if _utc(md.timestamp) >= since
        }
        body = result.result  # {"Metrics": [...], "NextToken": ...}
        body["Metrics"] = [m for m in body["Metrics"] if (m.namespace, m.name, _dims_key(m.dimensions)) in recent]
        return result

    replace(CloudWatchBackend, "put_metric_data", put_metric_data, "store Values+Counts as one distribution")
    replace(CloudWatchResponse, "list_metrics", list_metrics, "ListMetrics RecentlyActive=PT3H")
    replace(CloudWatchBackend, "get_metric_data", get_metric_data, "percentiles, exact dimensions, metric math")
    replace(CloudWatchResponse, "get_metric_statistics", get_metric_statistics, "ExtendedStatistics, aligned periods")
