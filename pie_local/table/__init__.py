"""The embedded table: DynamoDB on moto, in process, with its change log and its stream."""
