"""The dispatcher: starting queued jobs on their handlers (from the table's stream), completing
them from what AWS reports, and sweeping the jobs that are due (timeouts, retries, lost starts)."""
