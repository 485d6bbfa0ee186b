"""The author's param order, read from a DAG file with ``ast``, and the DAG source endpoint.

``param_order_from_source`` is tested on every shape it accepts, on the shapes that must
give "cannot tell" (None), on a file that would have side effects if it ran, and on Airflow's
own params example DAGs from the installed Airflow 2.11 and 3.1.8 packages. Reading a DAG's
source is tested against both real Airflows, and with ``responses`` for its odd shapes.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
import responses

from dags_api import (
    AirflowClient,
    AirflowNotFound,
    AirflowServerError,
    BasicAuth,
    ConnectionSettings,
    param_order_from_source,
)
from tests.harness.airflow import (
    AIRFLOW3_VERSION,
    AIRFLOW_VERSION,
    AirflowInstance,
)
from tests.helpers.param_order import example_file, keys_as_written

AIRFLOW_VERSIONS = [AIRFLOW_VERSION, AIRFLOW3_VERSION]


def order(source: str, dag_id: str = "my_dag", **kwargs: str) -> list[str] | None:
    return param_order_from_source(textwrap.dedent(source), dag_id, **kwargs)


# --- the shapes of a DAG --------------------------------------------------------------------


def test_dag_call_with_a_keyword_id_and_a_dict_literal() -> None:
    source = """
        from airflow import DAG
        from airflow.models.param import Param
        dag = DAG(dag_id="my_dag", params={"zeta": 1, "alpha": Param(2), "mid": "x"})
    """
    assert order(source) == ["zeta", "alpha", "mid"]


def test_dag_call_with_the_id_as_first_argument_and_an_attribute_name() -> None:
    source = """
        from airflow import models
        dag = models.DAG("my_dag", schedule=None, params={"b": 1, "a": 2})
    """
    assert order(source) == ["b", "a"]


def test_with_dag_as_dag() -> None:
    source = """
        with DAG(dag_id="my_dag", params={"second": 2, "first": 1}) as dag:
            EmptyOperator(task_id="t")
    """
    assert order(source) == ["second", "first"]


def test_dag_decorator_takes_the_function_name_as_id() -> None:
    source = """
        from airflow.decorators import dag

        @dag(schedule=None, params={"y": 1, "x": 2})
        def my_dag():
            pass

        my_dag()
    """
    assert order(source) == ["y", "x"]


def test_dag_decorator_with_an_id_as_keyword_or_first_argument() -> None:
    keyword = """
        @airflow.sdk.dag(dag_id="my_dag", params={"y": 1, "x": 2})
        def something_else():
            pass
    """
    positional = """
        @dag("my_dag", params={"y": 1, "x": 2})
        def something_else():
            pass
    """
    assert order(keyword) == order(positional) == ["y", "x"]
    assert order(keyword, dag_id="something_else") is None


def test_dag_decorator_adds_the_function_arguments_after_its_params() -> None:
    # Airflow makes every argument of a @dag function a param, after the decorator's params.
    source = """
        @dag(params={"b": 1, "a": 2})
        def my_dag(z=1, a=2, *, y=3):
            pass

        @dag
        def bare(second=1, first=2):
            pass
    """
    assert order(source) == ["b", "a", "z", "y"]
    assert order(source, dag_id="bare") == ["second", "first"]


def test_dag_id_from_the_file_stem() -> None:
    source = """
        from pathlib import Path
        with DAG(dag_id=Path(__file__).stem, params={"b": 1, "a": 2}) as dag:
            pass
        other = DAG(dag_id="other", params={"c": 1})
    """
    assert order(source, filename="/opt/dags/my_dag.py") == ["b", "a"]
    assert order(source, filename="my_dag.py") == ["b", "a"]
    assert order(source, filename="/opt/dags/not_it.py") is None


def test_a_lone_dag_whose_id_cannot_be_read_is_taken() -> None:
    source = """
        with DAG(dag_id=Path(__file__).stem, params={"b": 1, "a": 2}) as dag:
            pass
    """
    assert order(source) == ["b", "a"]  # no file name given: the only DAG in the file
    computed = 'DAG(dag_id=f"{PREFIX}_x", params={"b": 1, "a": 2})'
    assert order(computed) == ["b", "a"]


def test_dag_id_bound_to_a_module_level_name() -> None:
    source = """
        DAG_ID = "my_dag"
        DAG(dag_id=DAG_ID, params={"b": 1, "a": 2})
        DAG(dag_id="another", params={"c": 1})
    """
    assert order(source) == ["b", "a"]


def test_the_matching_dag_among_several() -> None:
    source = """
        DAG(dag_id="first", params={"f2": 1, "f1": 2})
        with DAG("my_dag", params={"m2": 1, "m1": 2}):
            pass

        @dag(params={"d2": 1, "d1": 2})
        def third():
            pass
    """
    assert order(source) == ["m2", "m1"]
    assert order(source, dag_id="first") == ["f2", "f1"]
    assert order(source, dag_id="third") == ["d2", "d1"]


# --- the shapes of params -------------------------------------------------------------------


def test_params_dict_of_a_dict_literal() -> None:
    source = 'DAG("my_dag", params=ParamsDict({"b": Param(1), "a": Param(2)}))'
    assert order(source) == ["b", "a"]
    assert order('DAG("my_dag", params=ParamsDict())') == []


def test_dict_call_with_keywords_and_a_mapping() -> None:
    assert order('DAG("my_dag", params=dict(b=1, a=Param(2)))') == ["b", "a"]
    assert order('DAG("my_dag", params=dict({"c": 1}, b=1, a=2))') == ["c", "b", "a"]


def test_params_bound_at_module_level_also_through_another_name() -> None:
    source = """
        BASE = {"b": Param(1), "a": Param(2)}
        PARAMS = BASE
        with DAG("my_dag", params=PARAMS):
            pass
        with DAG("wrapped", params=ParamsDict(dict(BASE, c=3))):
            pass
    """
    assert order(source) == ["b", "a"]
    assert order(source, dag_id="wrapped") == ["b", "a", "c"]


def test_a_repeated_key_keeps_its_first_place_as_in_python() -> None:
    assert order('DAG("my_dag", params={"b": 1, "a": 2, "b": 3})') == ["b", "a"]


# --- cannot tell: None ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "params",
    [
        "make_params()",  # a call
        "{**BASE, 'a': 1}",  # a spread
        "{KEY: 1}",  # a computed key
        "{1: 'a'}",  # not a string key
        "dict(**BASE)",
        "dict(BASE_UNKNOWN, a=1)",
        "UNBOUND",  # a name bound nowhere
        "REBOUND",  # a name bound twice at module level
        "CHANGED",  # a name changed after it was bound
        "ParamsDict(BASE_UNKNOWN)",
        "{k: 1 for k in 'ab'}",
    ],
)
def test_params_that_are_not_a_literal(params: str) -> None:
    source = f"""
REBOUND = {{"a": 1}}
REBOUND = {{"b": 1}}
CHANGED = {{"a": 1}}
CHANGED |= {{"b": 1}}
DAG("my_dag", params={params})
"""
    assert param_order_from_source(source, "my_dag") is None


def test_several_dags_and_none_matches() -> None:
    source = """
        DAG("one", params={"a": 1})
        DAG(dag_id=make_id(), params={"b": 1})
    """
    assert order(source) is None


def test_two_dags_with_the_same_id() -> None:
    source = """
        DAG("my_dag", params={"a": 1, "b": 2})
        DAG("my_dag", params={"b": 2, "a": 1})
    """
    assert order(source) is None


def test_a_dag_without_params_or_a_file_without_dags() -> None:
    assert order('DAG("my_dag", schedule=None)') is None
    assert order("@dag\ndef my_dag():\n    pass\n") is None
    assert order("x = {'a': 1}\n") is None
    assert order("") is None


@pytest.mark.parametrize(
    "source",
    [
        "with DAG('my_dag', params={'a': 1}) as dag\n    pass\n",  # a syntax error
        "DAG('my_dag', params={'a': 1})\x00",  # a null byte
        "x = " + "(" * 500 + ")" * 500,  # too many nested parentheses for the parser
        "x = " + "-" * 50_000 + "1",  # deeper than the parser's stack (a MemoryError)
        "x = " + "-" * 2_000 + "1",  # parses, but deeper than the walk goes
    ],
)
def test_a_file_that_does_not_parse(source: str) -> None:
    assert param_order_from_source(source, "my_dag") is None


def test_the_file_is_never_run(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    source = f"""
import pathlib
pathlib.Path({str(marker)!r}).write_text("module level")

def make_params():
    pathlib.Path({str(marker)!r}).write_text("called")
    return {{"zz": 1}}

with DAG(
    dag_id=pathlib.Path({str(marker)!r}).write_text("dag id") and "my_dag",
    params={{
        "b": pathlib.Path({str(marker)!r}).write_text("value"),
        "a": __import__("os").system("touch " + {str(marker)!r}),
    }},
) as dag:
    pass
raise SystemExit("a DAG file that exits")
"""
    assert param_order_from_source(source, "my_dag") == ["b", "a"]
    assert not marker.exists()


# --- Airflow's own example DAGs, from the installed packages --------------------------------


@pytest.mark.parametrize("version", AIRFLOW_VERSIONS)
def test_airflow_example_params_ui_tutorial(version: str) -> None:
    path = example_file(version, "example_params_ui_tutorial")
    found = param_order_from_source(
        path.read_text(), "example_params_ui_tutorial", filename=str(path)
    )
    assert found == keys_as_written(path)
    assert found is not None and len(found) > 20
    assert found != sorted(found)
    # Written ``dag_id=Path(__file__).stem``: only the file's stem names it.
    assert param_order_from_source(path.read_text(), "example_params_ui_tutorial") == found
    assert param_order_from_source(path.read_text(), "x", filename="/dags/x.py") == found
    assert param_order_from_source(path.read_text(), "x", filename=str(path)) is None


@pytest.mark.parametrize("version", AIRFLOW_VERSIONS)
def test_airflow_example_params_trigger_ui(version: str) -> None:
    path = example_file(version, "example_params_trigger_ui")
    found = param_order_from_source(
        path.read_text(), "example_params_trigger_ui", filename=str(path)
    )
    assert found == ["names", "english", "german", "french"]


# --- reading the source from Airflow --------------------------------------------------------


@pytest.mark.airflow
@pytest.mark.parametrize("dag_id", ["example_params_ui_tutorial", "example_params_trigger_ui"])
def test_the_source_read_from_airflow_is_the_installed_example(
    airflow_any: AirflowInstance, any_admin_client: AirflowClient, dag_id: str
) -> None:
    details = any_admin_client.get_dag(dag_id)
    source = any_admin_client.get_dag_source(dag_id, file_token=details.file_token)
    assert source == example_file(airflow_any.version, dag_id).read_text()
    assert any_admin_client.get_dag_source(dag_id) == source  # the token looked up first
    found = param_order_from_source(source, dag_id, filename=details.fileloc)
    assert found is not None and set(found) == set(details.params)
    if any_admin_client.api.keeps_param_order:
        assert found == list(details.params)  # Airflow 3 sends them in the author's order
    else:
        assert list(details.params) == sorted(details.params)  # Airflow 2 sorts them


@pytest.mark.airflow
def test_non_ascii_source_text_arrives_intact(any_admin_client: AirflowClient) -> None:
    # Airflow 2's text/plain answer names no charset; requests would decode it as Latin-1.
    source = any_admin_client.get_dag_source("example_params_trigger_ui")
    assert "Erzeuge Deutsche Begrüßung" in source


@pytest.mark.airflow
def test_the_source_of_an_unknown_dag_is_not_found(any_admin_client: AirflowClient) -> None:
    with pytest.raises(AirflowNotFound) as caught:
        any_admin_client.get_dag_source("no_such_dag", file_token="not-a-token")
    assert "source file of the DAG 'no_such_dag'" in caught.value.user_message


BASE = "https://airflow.example.test"


@pytest.fixture
def http() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock() as mock:
        yield mock


def v1_client() -> AirflowClient:
    return AirflowClient(ConnectionSettings(BASE, BasicAuth("u", "p"), api_version="v1"))


def test_airflow_2_source_by_the_token_quoted_in_the_path(http: responses.RequestsMock) -> None:
    http.get(f"{BASE}/api/v1/dagSources/a.b%2Fc", json={"content": "print('ü')\n"})
    assert v1_client().get_dag_source("d", file_token="a.b/c") == "print('ü')\n"
    assert http.calls[0].request.headers["Accept"] == "application/json"


def test_airflow_2_without_a_token_reads_the_details_first(http: responses.RequestsMock) -> None:
    http.get(f"{BASE}/api/v1/dags/d/details", json={"dag_id": "d", "file_token": "tok"})
    http.get(f"{BASE}/api/v1/dagSources/tok", json={"content": "x = 1\n"})
    assert v1_client().get_dag_source("d") == "x = 1\n"


def test_airflow_2_details_without_a_token(http: responses.RequestsMock) -> None:
    http.get(f"{BASE}/api/v1/dags/d/details", json={"dag_id": "d"})
    with pytest.raises(AirflowServerError, match="which file defines the DAG 'd'"):
        v1_client().get_dag_source("d")


def test_airflow_3_source_by_dag_id_ignores_a_token(http: responses.RequestsMock) -> None:
    http.post(f"{BASE}/auth/token", json={"access_token": "t"}, status=201)
    http.get(f"{BASE}/api/v2/dagSources/my%20dag", json={"content": "y = 2\n", "dag_id": "x"})
    client = AirflowClient(ConnectionSettings(BASE, BasicAuth("u", "p"), api_version="v2"))
    assert client.get_dag_source("my dag", file_token="ignored") == "y = 2\n"


def test_a_source_answer_without_content(http: responses.RequestsMock) -> None:
    http.get(f"{BASE}/api/v1/dagSources/tok", json={"content": None})
    with pytest.raises(AirflowServerError, match="DAG source request in an unexpected shape"):
        v1_client().get_dag_source("d", file_token="tok")
