#!/usr/bin/env python3
"""Runs the integration tests (real broker processes, real clients):
tests/compat/, tests/fuzz/, tests/powerloss/ and tests/chaos/ test_*.py files, with unittest.

Usage: RILL_BIN=build/release/bin/rill /usr/bin/python3 tests/run.py [pattern]
"""
import os
import sys
import unittest

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "lib"))


class WatchingResult(unittest.TextTestResult):
    """Fails the test during which a broker exited without being asked to
    (rill.unexpected_exits), even if its own assertions all passed."""

    def stopTest(self, test):
        import rill
        for why in rill.unexpected_exits():
            self.addFailure(test, (AssertionError, AssertionError(why), None))
        super().stopTest(test)


def main():
    pattern = sys.argv[1] if len(sys.argv) > 1 else "test_*.py"
    suite = unittest.TestSuite()
    loader = unittest.TestLoader()
    for sub in ("compat", "fuzz", "powerloss", "chaos"):
        suite.addTests(loader.discover(os.path.join(here, sub), pattern=pattern,
                                       top_level_dir=os.path.join(here, sub)))
    if suite.countTestCases() == 0:
        print("run.py: no test matches %r: a run that tests nothing fails" % pattern,
              file=sys.stderr)
        sys.exit(1)
    result = unittest.TextTestRunner(verbosity=2, resultclass=WatchingResult).run(suite)
    sys.exit(0 if result.wasSuccessful() else 1)


if __name__ == "__main__":
    main()
