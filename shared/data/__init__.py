"""Data access: the single DynamoDB table, its keys and the store the domain talks to."""
