"""Order reports: asked for with a 202, built after the response, read by their own URL.

`POST /users/{user_id}/reports` writes a `pending` row, schedules the task and answers
202 Accepted with a `Location`: the work is accepted, not done. `GET /reports/{id}`
tells how it ended (`pending`, `ready` with the CSV, or `failed` with the error).
"""

from fastapi import APIRouter, BackgroundTasks, Depends, Request, Response

from workshop_app.dependencies import ReportServiceDep, ResourceId, WorkerDep, get_caller
from workshop_app.error_handlers import error_responses
from workshop_app.schemas import ReportRead

user_reports_router = APIRouter(
    dependencies=[Depends(get_caller)], responses=error_responses(401, 404)
)
router = APIRouter(dependencies=[Depends(get_caller)], responses=error_responses(401, 404))


@user_reports_router.post("", status_code=202, summary="Ask for a CSV report of a user's orders")
async def request_report(
    user_id: ResourceId,
    reports: ReportServiceDep,
    worker: WorkerDep,
    background: BackgroundTasks,
    request: Request,
    response: Response,
) -> ReportRead:
    """Answers at once with the `pending` report; poll its `Location` until it is `ready`."""
    report = await reports.request(user_id)
    background.add_task(worker.build_report, report.id)
    response.headers["Location"] = str(request.url_for("read_report", report_id=report.id))
    return ReportRead.model_validate(report)


@router.get("/{report_id}", summary="Get a report's status, and its CSV when ready")
async def read_report(report_id: ResourceId, reports: ReportServiceDep) -> ReportRead:
    return ReportRead.model_validate(await reports.get(report_id))
