"""`python -m mock_server [--host 127.0.0.1] [--port 8080] [--seed N] [--config FILE.toml]`."""

from mock_server._serve import main

raise SystemExit(main())
