"""``python -m mlci_action.github``: the action's entry (as ``entrypoint.py``), for the action
started again in its own environment (:mod:`mlci_action.github.own_env`)."""

from __future__ import annotations

import os
import sys

from mlci_action.github.action import main

if __name__ == "__main__":
    sys.exit(main(os.environ, sys.stdout))
