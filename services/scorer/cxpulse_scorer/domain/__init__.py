"""Domain logic of the scorer service: pure functions and value objects, no I/O."""
