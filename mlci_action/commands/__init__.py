"""One module per subcommand of the CLI."""
