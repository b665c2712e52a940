"""What `mlci init` works out from the data files: schema, task, metrics, gates, check limits.

``infer`` reads the columns (task, dtypes, allowed values, ranges), ``choose`` picks metrics,
gates and the positive class, ``tune`` sets the data checks' limits so that the files init saw
pass, and ``render`` turns those records into mlci.yaml. ``commands/init.py`` writes the files.
"""
