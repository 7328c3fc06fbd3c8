"""The local stack: PIE on a laptop, with no AWS account (``pie-local``).

A development tool, installed by the ``dev`` extra: nothing under ``shared/`` imports it and no
Lambda bundle carries it. ``table`` is the embedded DynamoDB, ``gateway`` API Gateway with its
authorizer, ``runtime`` the functions and job handlers, ``console`` the console's site; ``server``
puts them together behind HTTP and ``cli`` is the ``pie-local`` command.
"""
