"""The process edge: settings (.env + YAML, read once) and the `secretary` command line."""
