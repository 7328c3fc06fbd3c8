"""The API's response envelopes, around the stored entities (``shared.domain.entities``), one
module per resource so that a route imports only its own: nothing is re-exported here."""
