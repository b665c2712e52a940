"""Monitoring: the reference profile built at package time, and `mlci monitor`.

- :mod:`.bins`: the bin rule and PSI shared with the serving side (one implementation);
- :mod:`.profile`: the reference profile (``reference.json``) of the training data, the
  test-set predictions and the candidate's metrics;
- :mod:`.live`: reading the inference log (and ground-truth labels) for a window;
- :mod:`.drift`: per-feature and prediction drift of live rows against the profile;
- :mod:`.performance`: live metrics with bootstrap intervals, or a confidence-based estimate;
- :mod:`.record`: the monitor's run record (run.json, kind "monitor");
- :mod:`.reference_task`: the worker task that builds the profile at package time (it runs in
  the project's environment, through mlci_action.worker).
- :mod:`.window`, :mod:`.judge`: the window's durations and times; the verdict;
- :mod:`.sliding`: the serving image's live drift over the last N rows (its /metrics gauges).
"""
