"""Order reports: the ``pending`` row a request writes, and reading how the work ended.

The service only records that a report was asked for; building it is the background
task's job (``workshop_app.tasks``). The row exists before the response, so the URL the
client receives always leads somewhere, whatever happens to the task.
"""

from sqlmodel.ext.asyncio.session import AsyncSession

from workshop_app.exceptions import NotFoundError
from workshop_app.models import OrderReport, User


class ReportService:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def request(self, user_id: int) -> OrderReport:
        """A ``pending`` report for an existing user (404 otherwise)."""
        if await self.session.get(User, user_id) is None:
            raise NotFoundError(f"User {user_id} does not exist.")
        report = OrderReport(user_id=user_id)
        self.session.add(report)
        await self.session.flush()
        return report

    async def get(self, report_id: int) -> OrderReport:
        report = await self.session.get(OrderReport, report_id)
        if report is None:
            raise NotFoundError(f"Report {report_id} does not exist.")
        return report
