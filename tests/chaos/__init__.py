"""The chaos suite (issue 7): sustained load through several real `herald gateway`
processes sharing a real redis-server, with gateways SIGKILLed, Redis restarted from its
AOF, receivers failing, stalling and cutting connections; then the delivery invariants.

`python -m tests.chaos --duration 120` (`make chaos`) runs a long version and prints the
figures; tests/chaos/test_chaos.py runs a CI-sized one in the test suite.
"""
