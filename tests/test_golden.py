"""Golden regression test: tiny runs give exactly the pinned numbers (tests/golden/)."""

import json

import pytest

from tests.golden.cases import CASES, compute, path


@pytest.mark.parametrize("case", sorted(CASES))
def test_golden(case: str) -> None:
    pinned = json.loads(path(case).read_text())
    got = json.loads(json.dumps(compute(case), sort_keys=True))
    assert got["weekly"] == pinned["weekly"], f"{case}: weekly values differ; refresh only for an intended change"
    differ = {k: (pinned["summary"].get(k), got["summary"].get(k))
              for k in set(pinned["summary"]) | set(got["summary"])
              if pinned["summary"].get(k) != got["summary"].get(k)}
    assert not differ, f"{case}: {len(differ)} end-of-run values differ, e.g. {list(differ.items())[:5]}"
