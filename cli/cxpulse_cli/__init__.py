"""The `cxpulse` command line: local stack, demo, benchmarks, contracts and offline tools."""
