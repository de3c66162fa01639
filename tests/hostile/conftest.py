"""Hypothesis keeps its example database and caches in a temporary directory, never in the checkout."""
from __future__ import annotations

import os
import tempfile

from hypothesis.configuration import set_hypothesis_home_dir

set_hypothesis_home_dir(os.path.join(tempfile.gettempdir(), "kn-hypothesis-%d" % os.getuid()))
