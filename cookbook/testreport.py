"""Sum JUnit XML reports into one closing line: ``N passed, N failed, N skipped``.

Used by ``scripts/test-all.sh``, which runs several pytest sessions (repo, each recipe, notebooks).
Errors (collection or fixture errors) count as failed. Exit status is always 0; the script decides.
"""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ET
from pathlib import Path


def summarize(reports: Path) -> dict[str, int]:
    """Return ``{"passed", "failed", "skipped", "files"}`` summed over ``reports/*.xml``."""
    total = {"passed": 0, "failed": 0, "skipped": 0, "files": 0}
    for xml in sorted(reports.glob("*.xml")):
        root = ET.parse(xml).getroot()
        suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
        for s in suites:
            tests, fails = int(s.get("tests", 0)), int(s.get("failures", 0)) + int(s.get("errors", 0))
            skipped = int(s.get("skipped", 0))
            total["passed"] += tests - fails - skipped
            total["failed"] += fails
            total["skipped"] += skipped
        total["files"] += 1
    return total


if __name__ == "__main__":
    t = summarize(Path(sys.argv[1]))
    print(f"({t['files']} pytest runs)")
    print(f"{t['passed']} passed, {t['failed']} failed, {t['skipped']} skipped")
