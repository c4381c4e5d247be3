"""Mount every router on the app; the one place that decides URL prefixes."""

from fastapi import FastAPI

from workshop_app.routers import events, health, me, orders, outbox, reports, users


def register_routers(app: FastAPI) -> None:
    app.include_router(health.router, prefix="/health", tags=["health"])
    app.include_router(me.router, prefix="/me", tags=["me"])
    app.include_router(users.router, prefix="/users", tags=["users"])
    app.include_router(orders.user_orders_router, prefix="/users/{user_id}/orders", tags=["orders"])
    app.include_router(orders.router, prefix="/orders", tags=["orders"])
    app.include_router(outbox.router, prefix="/users/{user_id}/outbox", tags=["outbox"])
    app.include_router(
        reports.user_reports_router, prefix="/users/{user_id}/reports", tags=["reports"]
    )
    app.include_router(reports.router, prefix="/reports", tags=["reports"])
    app.include_router(events.router, prefix="/events", tags=["events"])
