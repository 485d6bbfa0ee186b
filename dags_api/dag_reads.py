"""Reading DAGs: the DAG list, one DAG's details and source file, import errors."""

from __future__ import annotations

from typing import Any

from .connection import AirflowConnection
from .endpoints import Id
from .errors import AirflowServerError
from .models import Dag, DagDetails, DagImportError


class DagReads(AirflowConnection):
    """The calls that read DAGs; none changes anything, so all may be retried."""

    def list_dags(
        self,
        *,
        tags: list[str] | None = None,
        dag_id_pattern: str | None = None,
        paused: bool | None = None,
        only_active: bool = True,
    ) -> list[Dag]:
        """Every DAG matching the filters, across all pages.

        ``tags`` matches DAGs carrying any of the tags; ``dag_id_pattern`` is a substring.
        """

        def fetch(offset: int) -> dict[str, Any]:
            query = self.api.dag_list_query(
                offset=offset,
                tags=tags,
                dag_id_pattern=dag_id_pattern,
                paused=paused,
                only_active=only_active,
            )
            return self._json("GET", "dags", params=query, subject="the DAG list")

        return [self.api.parse_dag(item) for item in self._pages(fetch, "dags")]

    def get_dag(self, dag_id: str) -> DagDetails:
        """One DAG with its details and ``params``."""
        data = self._json(
            "GET", "dags", Id("dag_id", dag_id), "details", subject=f"the DAG '{dag_id}'"
        )
        return self.api.parse_dag_details(data)

    def get_dag_source(self, dag_id: str, *, file_token: str | None = None) -> str:
        """The text of the Python file that defines a DAG.

        Airflow 2 finds the file by the ``file_token`` of the DAG's details (pass
        ``DagDetails.file_token``; without it the details are read first), Airflow 3 by the
        DAG id.
        """
        api = self.api
        segments = api.dag_source_path(dag_id, file_token)
        if segments is None:
            segments = api.dag_source_path(dag_id, self.get_dag(dag_id).file_token)
        if segments is None:
            raise AirflowServerError(
                f"Airflow did not say which file defines the DAG '{dag_id}'.",
                detail="no file_token in the DAG's details",
            )
        data = self._json("GET", *segments, subject=f"the source file of the DAG '{dag_id}'")
        return api.parse_dag_source(data)

    def list_import_errors(self) -> list[DagImportError]:
        """DAG files Airflow failed to import, with their errors."""

        def fetch(offset: int) -> dict[str, Any]:
            return self._json(
                "GET",
                "importErrors",
                params={"limit": self.api.page_limit, "offset": offset},
                subject="the import error list",
            )

        return [self.api.parse_import_error(i) for i in self._pages(fetch, "import_errors")]
