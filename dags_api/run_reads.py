"""Reading runs, task instances and task logs, one at a time or in batches.

The batch calls (``~/dagRuns/list``, ``~/dagRuns/~/taskInstances/list``) are what the
poller uses: one request per page, whatever the number of DAGs.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from .connection import AirflowConnection
from .endpoints import Id, Segment, endpoint_template
from .models import DagRun, TaskInstance

RUN_IDS_PER_REQUEST = 100


class RunReads(AirflowConnection):
    """The calls that read runs, their task instances and logs."""

    def get_dag_run(self, dag_id: str, dag_run_id: str) -> DagRun:
        """One run of a DAG."""
        data = self._json(
            "GET",
            "dags",
            Id("dag_id", dag_id),
            "dagRuns",
            Id("dag_run_id", dag_run_id),
            subject=f"the run '{dag_run_id}' of DAG '{dag_id}'",
        )
        return self.api.parse_dag_run(data)

    def list_dag_runs(
        self,
        *,
        dag_ids: list[str] | None = None,
        states: list[str] | None = None,
        end_date_gte: datetime | None = None,
    ) -> list[DagRun]:
        """Runs of many DAGs at once (``~/dagRuns/list``), across all pages.

        One request per 100 runs, whatever the number of DAGs: this is what polling uses.
        ``end_date_gte`` keeps only runs that ended at or after that time.
        """

        def fetch(offset: int) -> dict[str, Any]:
            body = self.api.dag_runs_batch_body(
                dag_ids=dag_ids, states=states, offset=offset, end_date_gte=end_date_gte
            )
            return self._json(
                "POST", "dags", "~", "dagRuns", "list", body=body, subject="the run list"
            )

        return [self.api.parse_dag_run(item) for item in self._pages(fetch, "dag_runs")]

    def list_task_instances(self, dag_id: str, dag_run_id: str) -> list[TaskInstance]:
        """The task instances of one run, one per task and map index."""

        def fetch(offset: int) -> dict[str, Any]:
            return self._json(
                "GET",
                "dags",
                Id("dag_id", dag_id),
                "dagRuns",
                Id("dag_run_id", dag_run_id),
                "taskInstances",
                params={"limit": self.api.page_limit, "offset": offset},
                subject=f"the run '{dag_run_id}' of DAG '{dag_id}'",
            )

        return [self.api.parse_task_instance(i) for i in self._pages(fetch, "task_instances")]

    def list_task_instances_batch(
        self,
        *,
        dag_ids: list[str] | None = None,
        dag_run_ids: list[str] | None = None,
        states: list[str | None] | None = None,
    ) -> list[TaskInstance]:
        """Task instances of many runs at once (``~/dagRuns/~/taskInstances/list``).

        Run ids go ``RUN_IDS_PER_REQUEST`` at a time: an Airflow on SQLite fails (HTTP 500,
        "expression tree is too large") on a filter of about a thousand ids.
        """
        if dag_run_ids is None or len(dag_run_ids) <= RUN_IDS_PER_REQUEST:
            return self._task_instances_batch(dag_ids, dag_run_ids, states)
        found: list[TaskInstance] = []
        for start in range(0, len(dag_run_ids), RUN_IDS_PER_REQUEST):
            chunk = dag_run_ids[start : start + RUN_IDS_PER_REQUEST]
            found += self._task_instances_batch(dag_ids, chunk, states)
        return found

    def _task_instances_batch(
        self,
        dag_ids: list[str] | None,
        dag_run_ids: list[str] | None,
        states: list[str | None] | None,
    ) -> list[TaskInstance]:
        def fetch(offset: int) -> dict[str, Any]:
            body = self.api.task_instances_batch_body(
                dag_ids=dag_ids, dag_run_ids=dag_run_ids, states=states, offset=offset
            )
            return self._json(
                "POST",
                "dags",
                "~",
                "dagRuns",
                "~",
                "taskInstances",
                "list",
                body=body,
                subject="the task instance list",
            )

        return [self.api.parse_task_instance(i) for i in self._pages(fetch, "task_instances")]

    def get_task_log(
        self,
        dag_id: str,
        dag_run_id: str,
        task_id: str,
        try_number: int,
        *,
        map_index: int = -1,
    ) -> str:
        """The whole log text of one try of one task instance (Airflow 3's JSON as text)."""
        api = self.api
        segments: tuple[Segment, ...] = (
            "dags",
            Id("dag_id", dag_id),
            "dagRuns",
            Id("dag_run_id", dag_run_id),
            "taskInstances",
            Id("task_id", task_id),
            "logs",
            Id("try_number", str(try_number)),
        )
        response = self.transport.request(
            "GET",
            api.url(self.settings.base_url, *segments),
            endpoint=endpoint_template(segments),
            params={"full_content": "true", "map_index": map_index},
            accept=api.log_accept,
            subject=f"the log of try {try_number} of task '{task_id}' in run '{dag_run_id}'",
        )
        return api.parse_log(response)
