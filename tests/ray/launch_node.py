"""``ray start`` for the test cluster, with the dashboard agent's listen port given to the raylet.

On a loaded machine the dashboard agent can take longer to import than the raylet waits for its
port file (a fixed wait in Ray 2.60: the raylet aborts with "Timed out waiting for file
.../dashboard_agent_listen_port_..."). ``ray start`` passes the agent's other ports to the raylet
but not this one; this launcher adds it through a wrapper around the raylet binary, so the
raylet does not wait and the agent may take its time. Usage: ``python launch_node.py PORT
<ray start arguments>`` (PORT is also given to ``ray start --dashboard-agent-listen-port``).
"""

from __future__ import annotations

import os
import stat
import sys
import tempfile

import ray._private.services as services
from ray.scripts.scripts import main


def _wrap(port: int) -> str:
    real = services.RAYLET_EXECUTABLE
    folder = tempfile.mkdtemp(prefix="mlci-raylet-")
    wrapper = os.path.join(folder, "raylet")
    with open(wrapper, "w", encoding="utf-8") as handle:
        handle.write(f'#!/bin/sh\nexec {real} "$@" --dashboard_agent_listen_port={port}\n')
    os.chmod(wrapper, stat.S_IRWXU)
    return wrapper


if __name__ == "__main__":
    port = int(sys.argv[1])
    services.RAYLET_EXECUTABLE = _wrap(port)
    sys.argv = ["ray", "start", *sys.argv[2:], "--dashboard-agent-listen-port", str(port)]
    sys.exit(main())
