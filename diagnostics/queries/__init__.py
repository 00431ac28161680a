"""Read-only queries on alerts and the diagnostic dictionaries, shared by the API and the
console."""
