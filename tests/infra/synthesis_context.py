"""The context the infrastructure tests synthesize with: an example identity provider and an
allow-list that admits one Lambda name prefix in two regions, one ECS cluster and two state
machine name prefixes."""

ISSUER = "https://issuer.example.com/pie"
AUDIENCE = ["pie-api", "pie-cli"]
HANDLER_ALLOW_LIST = {
    "lambda_accounts": ["111122223333"],
    "lambda_regions": ["us-east-1", "eu-west-1"],
    "lambda_name_prefixes": ["pie-handler-"],
    "ecs_clusters": ["ml-cluster"],
    "ecs_task_family_prefixes": ["train-", "score-"],
    "in_process_implementations": ["echo"],
    "step_functions_accounts": ["111122223333"],
    "step_functions_regions": ["us-east-1"],
    "step_functions_name_prefixes": ["pie-workflow-", "train-"],
}
ECS_PASS_ROLE_ARNS = ["arn:aws:iam::111122223333:role/pie-ml-task"]
TEST_CONTEXT = {
    "jwtIssuer": ISSUER,
    "jwtAudience": ",".join(AUDIENCE),
    "handlerAllowList": HANDLER_ALLOW_LIST,
    "ecsPassRoleArns": ECS_PASS_ROLE_ARNS,
    "bundleDependencies": False,
    "@aws-cdk/core:annotationsInValidationReport": False,
}
