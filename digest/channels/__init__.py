"""Where a digest goes besides the email: its web copy, the subscriber's Atom feed, and the
JSON, Slack and Discord forms of it. Each is made from what the delivery recorded as sent
(`record`), never from a new ranking."""
