"""An Airflow-compatible REST API in front of the panel's rules.

``/airflow/{profile}/api/v1/`` answers in Airflow 2's shapes and ``/api/v2/`` in Airflow 3's,
whatever version the profile's Airflow runs, so existing Airflow clients (the official
``apache-airflow-client``, scripts, tools) can be pointed at the panel unchanged. It is a
thin layer: access from ``controlpanel.permissions``, changes through ``services`` (audited
with the source "Airflow-compatible API"), reads through ``selectors`` (Airflow's own
answers in ``selectors.airflow_reads``); ``shapes`` translates.
"""
