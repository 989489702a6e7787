"""Thin Celery tasks over accounts.services, run by beat."""

from celery import shared_task

from accounts import services


@shared_task(ignore_result=True)
def quota_months_open_task() -> None:
    services.quota_months_open()
