"""The console's static site at ``/console/``, served beside the API."""
