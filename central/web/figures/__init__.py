"""Chart figures of the web pages: plain functions of query results (no Flask, no Dash callbacks), so that each chart is tested without a browser."""
