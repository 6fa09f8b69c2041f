"""Infrastructure glue shared by every cxpulse service: no domain logic lives here."""
