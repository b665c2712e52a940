"""Inference logging in the serving image: a bounded queue after predict, a writer thread,
file and CloudEvents sinks, live drift gauges (issue 12). See :mod:`.writer`."""
