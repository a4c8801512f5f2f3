"""Client side of cintel-harness: the Intelligence client, its limiter and retries, and the batch runner."""
