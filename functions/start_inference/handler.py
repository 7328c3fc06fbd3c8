"""POST /v2/models/{model_id}/inference — queue an inference job (input checked against the contract)."""

from shared.domain.requests import StartJobRequest
from shared.domain.responses import JobResponse
from shared.http.api import ModelIdPath, RouteApi, json_response
from shared.runtime import job_service

api = RouteApi("start_inference")


@api.handler(JobResponse, status=202, errors=(422,))
def start_inference(model_id: ModelIdPath, body: StartJobRequest):
    result = job_service().start_inference(model_id, body, api.access)
    return json_response(result, status=202, etag=result.job.entity_version)


lambda_handler = api.lambda_handler
