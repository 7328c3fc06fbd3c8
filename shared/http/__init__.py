"""HTTP glue between API Gateway (payload 2.0) and the services: requests, errors as statuses,
authorisation, idempotency and the OpenAPI document, driven by the route table (``shared.routes``)."""
