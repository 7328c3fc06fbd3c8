"""PIE's model: its entities and the rules over them, with no I/O (the version lifecycle, what a
job's claim, result, timeout or cancel does to it and its version, what an event fires, access,
contracts), the requests and responses the API speaks and the typed errors. Every other layer
imports it; it imports none of them."""
