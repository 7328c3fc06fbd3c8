"""HTTP glue between API Gateway (payload 2.0) and the domain."""
