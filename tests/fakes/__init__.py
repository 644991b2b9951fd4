"""Test doubles. The only one the suite allows: `driver.FakeDriver`, the engine contract in memory."""
