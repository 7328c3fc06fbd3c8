"""The console's static files (HTML, CSS, ES modules), shipped as package data so an installed
``pie-local serve`` can serve them; the CDK app deploys the same folder to S3."""
