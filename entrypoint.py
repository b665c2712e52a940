"""The GitHub Action's entry point (action.yml runs it in the action image): thin by design."""

from __future__ import annotations

import os
import sys

from mlci_action.github.action import main

if __name__ == "__main__":
    sys.exit(main(os.environ, sys.stdout))
