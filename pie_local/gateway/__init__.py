"""API Gateway played in process: requests, routing, the JWT authorizer and its local tokens."""
