"""The `stax` command line: one entry point for the station, the central server and the tools."""
