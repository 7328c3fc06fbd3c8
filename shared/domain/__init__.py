"""PIE's domain: resources, rules and the services the route functions call."""
