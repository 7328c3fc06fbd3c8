"""PIE's shared package: domain, data access, HTTP glue and the local stack."""
