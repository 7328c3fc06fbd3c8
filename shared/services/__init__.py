"""PIE's services: the use cases, over the domain model and small store protocols."""
