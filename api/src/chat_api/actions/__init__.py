"""The only code that changes rooms, messages, memberships, markers and accounts.

Each action opens the change, writes it and its events (streams.py) in one transaction,
commits, and publishes after the commit (outbox.py), as zulip's actions do. Routes call an
action and shape the answer; they never commit or publish.
"""
