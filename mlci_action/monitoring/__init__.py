"""Monitoring: the reference profile, live drift, and ``mlci monitor`` (issue 12)."""
