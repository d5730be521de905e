"""Shared by the evaluation commands: the JSONL case format and latency percentiles."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any


class CasesError(ValueError):
    """The cases file is missing or malformed; the message names the file and line."""


def read_cases(path: Path) -> list[dict[str, Any]]:
    """Cases in the format of ../shared/eval/README.md, one JSON object per line."""
    if not path.exists():
        raise CasesError(f"{path} does not exist.")
    cases = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            case = json.loads(line)
        except ValueError as error:
            raise CasesError(f"{path}:{number}: not JSON ({error}).") from None
        if not isinstance(case, dict) or not case.get("turns") or "expect" not in case:
            raise CasesError(f"{path}:{number}: a case needs `turns` and `expect`.")
        turns = case["turns"]
        if not isinstance(turns, list) or not all(
            isinstance(turn, str) and turn.strip() for turn in turns
        ):
            raise CasesError(f"{path}:{number}: `turns` is a list of customer messages (text).")
        if not isinstance(case["expect"], dict):
            raise CasesError(f"{path}:{number}: `expect` is an object.")
        cases.append(case)
    return cases


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile (`fraction` 0-1) of `values`."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]
