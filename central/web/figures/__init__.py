"""Chart figures as plain functions of query results: no Dash, no request, no database,
so that each is tested without a browser (`central/web/pages/<page>.py` queries and
calls them)."""
