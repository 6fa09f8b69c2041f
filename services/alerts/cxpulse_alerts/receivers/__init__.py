"""Notification receivers: their configuration, wire formats and the delivery outbox."""
