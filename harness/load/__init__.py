"""Load testing: an arrival-rate generator, HDR latency metrics per second, thresholds and a one-file HTML report.

`cintel load` is built from these parts (see README "Load testing"); other runs reuse them — `write_report(metrics,
out_dir)` writes the same three files (report.json, timeseries.csv, report.html) for any filled `LoadMetrics`.
"""

from harness.load._generator import Generator, Tick
from harness.load._histogram import RELATIVE_ERROR, Histogram
from harness.load._merge import MergeError, merge_reports
from harness.load._metered import MeteredTransport
from harness.load._metrics import LoadMetrics
from harness.load._ops import HttpOperations, Target
from harness.load._profile import Profile, ProfileError, Segment, constant, ramp, spike, steps
from harness.load._report import build_report, write_report
from harness.load._run import LoadResult, run_load
from harness.load._spec import LoadSpec, LoadSpecError, build_spec
from harness.load._thresholds import Threshold, ThresholdError, Verdict, evaluate, parse_threshold
from harness.load._units import OPERATIONS, parse_duration, parse_mix, parse_rate

__all__ = [
    "OPERATIONS",
    "RELATIVE_ERROR",
    "Generator",
    "Histogram",
    "HttpOperations",
    "LoadMetrics",
    "LoadResult",
    "LoadSpec",
    "LoadSpecError",
    "MergeError",
    "MeteredTransport",
    "Profile",
    "ProfileError",
    "Segment",
    "Target",
    "Threshold",
    "ThresholdError",
    "Tick",
    "Verdict",
    "build_report",
    "build_spec",
    "constant",
    "evaluate",
    "merge_reports",
    "parse_duration",
    "parse_mix",
    "parse_rate",
    "parse_threshold",
    "ramp",
    "run_load",
    "spike",
    "steps",
    "write_report",
]
