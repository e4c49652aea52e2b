"""sc-autopilot: the product code, importable from the Functions app, the CLI and the tests."""
