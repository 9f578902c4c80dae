"""Plumbing every layer may use and that knows nothing above it: the shared
cache, rate limits, logs and their redaction, health checks, field
encryption, ID numbers, origins, and where webhooks may go."""
