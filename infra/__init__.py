"""PIE's AWS CDK app: one stack composed of one construct per concern (see docs/deploy.md)."""
