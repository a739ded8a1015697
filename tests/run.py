#!/usr/bin/env python3
"""Runs the integration tests (real broker processes, real clients):
tests/compat/, tests/fuzz/ and tests/powerloss/ test_*.py files, with unittest.

Usage: RILL_BIN=build/release/bin/rill /usr/bin/python3 tests/run.py [pattern]
"""
import os
import sys
import unittest

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "lib"))


def main():
    pattern = sys.argv[1] if len(sys.argv) > 1 else "test_*.py"
    suite = unittest.TestSuite()
    loader = unittest.TestLoader()
    for sub in ("compat", "fuzz", "powerloss"):
        suite.addTests(loader.discover(os.path.join(here, sub), pattern=pattern,
                                       top_level_dir=os.path.join(here, sub)))
    result = unittest.TextTestRunner(verbosity=2).run(suite)
    sys.exit(0 if result.wasSuccessful() else 1)


if __name__ == "__main__":
    main()
