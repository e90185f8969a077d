"""CloudWatch in moto, closer to AWS for what regionsync reads (imported by moto_bootstrap.py).

* Percentile statistics (p50, p99, p99.9, ...) in GetMetricData and GetMetricStatistics: moto
  answers only Sum/Average/Minimum/Maximum/SampleCount and returns nothing for a percentile.
  Computed from the raw values (PutMetricData Value or Values/Counts, what the local runtime sends
  for EMF lines), nearest rank. Values sent as StatisticValues have no distribution and are left out.
* Metric math and SEARCH in GetMetricData: moto_math.py.
* Dimension order: moto compares a query's dimensions with a metric's after sorting them with a
  broken ordering (name compared with value), so the same dimensions in another order could miss.
"""

import math
import re
from typing import Any

from moto.cloudwatch import models as _cw

_PERCENTILE = re.compile(r"^p(\d{1,2}(?:\.\d+)?|100)$")
_original_get = _cw.Statistics.get_statistics_for_type


def _get_statistics_for_type(self: Any, stat: str) -> Any:
    m = _PERCENTILE.match(stat or "")
    if not m:
        return _original_get(self, stat)
    values = sorted(self.metric_single_values_list)
    if not values:
        return None
    rank = math.ceil(float(m.group(1)) / 100 * len(values))
    return values[min(len(values) - 1, max(0, rank - 1))]


def _dimension_lt(self: Any, other: Any) -> bool:
    return (self.name or "", self.value or "") < (other.name or "", other.value or "")


_cw.Statistics.get_statistics_for_type = _get_statistics_for_type  # type: ignore[method-assign]
_cw.Dimension.__lt__ = _dimension_lt  # type: ignore[method-assign,assignment]

import moto_math  # noqa: E402,F401  (metric math and SEARCH in GetMetricData; see moto_math.py)
