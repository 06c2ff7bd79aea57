"""Fail a CI stage whose pytest JUnit report shows a skipped test or no test at all.

python .ci/no_skips.py <junit.xml> <stage name>
"""

import sys
import xml.etree.ElementTree as ET

report, stage = sys.argv[1], sys.argv[2]
suites = ET.parse(report).getroot()
suites = [suites] if suites.tag == "testsuite" else list(suites)
skipped = sum(int(s.get("skipped", 0)) for s in suites)
tests = sum(int(s.get("tests", 0)) for s in suites)
if skipped or not tests:
    sys.exit(f"{stage} stage: {skipped} of {tests} tests skipped; none may skip here")
