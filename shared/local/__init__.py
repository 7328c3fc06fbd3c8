"""The local stack: PIE on a laptop, with no AWS account (``pie-local``)."""
