"""JSON Schemas of the MQTT payloads the central publishes (central/mqtt.py, docs/mqtt.md)."""
