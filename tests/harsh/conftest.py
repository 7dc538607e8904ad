"""The harsh-conditions suite (issue #6): chaos with real processes, fuzzing a live relay,
and the regression tests of what they found.

The engines live in bench/ (bench/chaos_soak.py, bench/fuzz_relay.py,
bench/harsh_procs.py) so that the soak commands and these tests run the same code; this
conftest puts the repository root on sys.path so that test modules can import them
(the suite runs with --import-mode=importlib, where the root is not on the path).
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
