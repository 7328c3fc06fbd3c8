"""Logger, Tracer and Metrics for every function, from one place."""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics, Tracer

SERVICE = "pie"
# PIE's only outbound calls are AWS SDK calls. Patching every library the X-Ray SDK supports
# would import each one found (sqlite3, http.client's patch, ...) at every cold start for calls
# PIE never makes; botocore's patch records the same subsegments as before.
TRACED_LIBRARIES = ("botocore",)

logger = Logger(service=SERVICE)
tracer = Tracer(service=SERVICE, patch_modules=TRACED_LIBRARIES)
metrics = Metrics(namespace="PIE", service=SERVICE)
