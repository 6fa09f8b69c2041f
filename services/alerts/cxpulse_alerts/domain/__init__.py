"""Pure domain logic of the alerts service: incidents, ownership routing; no I/O."""
