"""Build tools that read the whole project: never bundled into a Lambda, never imported by
``shared/`` or ``functions/``."""
