"""Parity with Airflow's own trigger forms: what Airflow's UI sends for each DAG param."""
