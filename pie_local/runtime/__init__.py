"""The functions at work: PIE's own (found through the route table) and the job handlers it starts."""
