"""The central receiver: intake, verification, storage, re-analysis, products and web UI."""
