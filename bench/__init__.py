"""``make bench``: cold starts, DynamoDB round trips, warm overhead, fan-out, dispatch and local API
throughput, each measured against a baseline taken in the same run (``python -m bench``).

Nothing here is imported by PIE or by its tests; this module stays empty so that the cold-start
child processes (``bench.cold_start_child``) load nothing before they start their clocks.
"""
