"""NOTES.txt tells the operator what is in force: secrets, replicas, routes, policy, TLS."""

from __future__ import annotations

from pathlib import Path

import pytest
from chart_support import CI_VALUES, VALUES_IDS, Notes

pytestmark = pytest.mark.chart

SECRET = ("--set", "secrets.existingSecret=s")


@pytest.mark.parametrize("major", [3, 4])
@pytest.mark.parametrize("values", CI_VALUES, ids=VALUES_IDS)
def test_notes_render(notes: Notes, major: int, values: Path) -> None:
    """NOTES.txt renders on helm 3 and 4 for every ci values file."""
    text = notes(major, "-f", str(values))
    assert "helm test chat" in text and "existing Secret" in text


@pytest.mark.parametrize("major", [3, 4])
def test_notes_say_replica_count_is_ignored_under_hpa(notes: Notes, major: int) -> None:
    """With an HPA, NOTES says replicaCount is ignored; without one, that it is used."""
    text = notes(
        major, *SECRET, "--set", "api.replicaCount=5", "--set", "frontend.autoscaling.enabled=false"
    )
    assert "api.replicaCount=5 is ignored while api.autoscaling.enabled" in text
    assert "2 to 6 replicas (HorizontalPodAutoscaler)" in text
    assert "2 replica(s) from frontend.replicaCount (no autoscaler)" in text
    assert "gateway.replicaCount=2 is ignored" in text


def test_notes_migrations_off(notes: Notes) -> None:
    """With the migration Job off, NOTES does not claim migrations ran."""
    text = notes(4, *SECRET, "--set", "api.migrations.enabled=false")
    assert "Migrations ran" not in text and "run `python -m chat_api migrate`" in text
