"""Reads, and the rules they share with the actions (visibility, liveness, unread)."""
