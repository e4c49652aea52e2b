"""Cognitive Services accounts of each kind, on the key names Service Connector really writes for them.

An AIServices account's secret holds AZURE_AISERVICES_* keys, not AZURE_OPENAI_* (MicrosoftDocs
`how-to-integrate-ai-services.md`, FACTS.md section 10): the app must wire it and judge it from listConfigurations.
"""

from __future__ import annotations

from datetime import UTC, datetime

from shared.config import Settings
from shared.container import Application
from shared.core.verdicts import Status
from tests.conftest import CLUSTER, OPENAI, Admin, demo_spec
from tests.e2e.conftest import CLUSTER_TAGS, OPENAI_TAGS, Estate, env_from_secrets, secret_values

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


def _estate_with_account_kind(make_cloud, kind: str) -> tuple[Estate, Application]:
    spec = demo_spec()
    spec["subscriptions"][0]["resource_groups"][0]["openai_accounts"][0]["kind"] = kind
    cloud = make_cloud(spec)
    return Estate(Admin(cloud)), Application(Settings.from_env())


def test_an_ai_services_account_is_wired_with_its_own_key_names_and_judged_compliant(make_cloud):
    estate, app = _estate_with_account_kind(make_cloud, "AIServices")
    estate.tag(CLUSTER, CLUSTER_TAGS)
    estate.tag(OPENAI, OPENAI_TAGS)
    report = app.events.handle(estate.new_events())
    assert report.ok, report.summary()
    [secret] = env_from_secrets(estate.workload("Deployment", "web"))
    assert set(secret_values(estate.secret(secret))) == {
        "AZURE_AISERVICES_OPENAI_BASE",
        "AZURE_AISERVICES_COGNITIVESERVICES_ENDPOINT",
        "AZURE_AISERVICES_SPEECH_ENDPOINT",
        "AZURE_AISERVICES_CLIENTID",
    }
    result = app.sweeper.run(now=NOW)
    assert [v.status for c in result.clusters for v in c.verdicts] == [Status.COMPLIANT]


def test_a_cognitive_services_account_is_wired_with_its_own_key_names(make_cloud):
    """Kind CognitiveServices has no OpenAI endpoint: its own catalogue entry, AZURE_COGNITIVESERVICES_* keys
    (how-to-integrate-cognitive-services.md), judged on them."""
    estate, app = _estate_with_account_kind(make_cloud, "CognitiveServices")
    estate.tag(CLUSTER, CLUSTER_TAGS)
    estate.tag(OPENAI, OPENAI_TAGS)
    report = app.events.handle(estate.new_events())
    assert report.ok, report.summary()
    [secret] = env_from_secrets(estate.workload("Deployment", "web"))
    assert set(secret_values(estate.secret(secret))) == {
        "AZURE_COGNITIVESERVICES_ENDPOINT",
        "AZURE_COGNITIVESERVICES_CLIENTID",
    }
    assert [v.status for c in app.sweeper.run(now=NOW).clusters for v in c.verdicts] == [Status.COMPLIANT]


def test_a_cognitive_account_of_another_kind_is_not_a_target(make_cloud):
    """Single-service kinds (TextAnalytics, ...) have no documented key table: never wired."""
    estate, app = _estate_with_account_kind(make_cloud, "TextAnalytics")
    estate.tag(CLUSTER, CLUSTER_TAGS)
    estate.tag(OPENAI, OPENAI_TAGS)
    app.events.handle(estate.new_events())
    assert estate.linkers() == []
    assert env_from_secrets(estate.workload("Deployment", "web")) == []
