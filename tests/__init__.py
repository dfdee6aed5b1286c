"""The test suite; its folders mirror `vae/`'s."""

import os

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # The repository's root.
