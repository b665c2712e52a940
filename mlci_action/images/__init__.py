"""Container images: the environment image, the serving image, and the registry they go to."""
