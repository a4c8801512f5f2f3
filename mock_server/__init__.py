"""A faithful, stateful, rate-limited mock of Twilio Conversational Intelligence v2 (see README)."""
