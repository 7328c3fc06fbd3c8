"""Data access: the single DynamoDB table, its keys, its item codecs, and the stores and outbox
behind the services' protocols (``shared.services.ports``). It imports only the model."""
