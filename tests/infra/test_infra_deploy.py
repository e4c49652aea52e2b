"""`azd up` gets what it needs: a minimum azd version, a parameter file azd can fill from `azd env set` for every
operator setting (each documented), and a package without the repository's tests and tooling."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import yaml

from shared.config import Settings, StorageSettings
from tests.infra.bicep import Deployment, Template, parse

ROOT = Path(__file__).resolve().parents[2]
OPERATIONS = (ROOT / "docs" / "operations.md").read_text()
# `${NAME}` or `${NAME=default}`, as azd substitutes them (azure-dev envsubst)
VARIABLE = re.compile(r"^\$\{([A-Z][A-Z0-9_]*)(?:=(.*))?\}$")


def parameters() -> dict[str, str]:
    return {
        k: v["value"]
        for k, v in json.loads((ROOT / "infra" / "main.parameters.json").read_text())["parameters"].items()
    }


def test_azure_yaml_requires_an_azd_that_deploys_flex_consumption_and_points_at_the_templates():
    project = yaml.safe_load((ROOT / "azure.yaml").read_text())
    # azd 1.9.4 added Flex Consumption deployment (azure-dev CHANGELOG, PR 4003)
    match = re.fullmatch(r">=\s*(\d+)\.(\d+)\.(\d+)", project["requiredVersions"]["azd"])
    assert match and tuple(map(int, match.groups())) >= (1, 9, 4)
    assert (ROOT / project["infra"]["path"] / f"{project['infra']['module']}.bicep").exists()
    assert project["services"]["app"] == {"project": ".", "language": "python", "host": "function"}


def test_every_template_parameter_is_settable_with_azd_env_set_and_defaults_agree():
    declared = parse("main.bicep")["parameters"]
    given = parameters()
    assert set(given) == set(declared)
    defaults = Template("main.bicep")
    for name, value in given.items():
        match = VARIABLE.match(value)
        assert match, f"{name}: {value!r} is not an azd ${{VAR}} reference"
        # arrays and objects from env vars need azd >= 1.23.4 (azure-dev PR 6694): strings, bools and ints only
        assert declared[name]["type"] in ("string", "bool", "int"), name
        _, default = match.groups()
        if default is not None:
            expected = defaults.symbol(name, {})[1]
            assert default == (str(expected).lower() if isinstance(expected, bool) else str(expected)), name


def test_the_app_settings_the_template_computes_are_accepted_by_the_apps_configuration():
    """Evaluated from the Bicep (string(bool) is 'True' in ARM, keyvaultDns has a leading dot) and read as the app
    reads them at start-up."""
    main = Template("main.bicep", {"managedSubscriptions": f'["{SUB_A}","{SUB_B}"]', "dryRun": True},
                    Deployment(subscription_id=SUB_A))  # fmt: skip
    [(body, _)] = main.instances("resources", "app")
    env = {s["name"]: str(s["value"]) for s in main.value(body["properties"]["siteConfig"]["appSettings"])}
    settings = Settings.from_env(env)
    assert settings.subscriptions == (SUB_A, SUB_B) and settings.dry_run is True
    assert settings.keyvault_dns_suffixes == ("vault.azure.net",) and settings.cleanup_mode == "report"
    storage = StorageSettings.from_env(env)
    assert storage.blob_service_uri == f"https://{main.variable('storageName')}.blob.core.windows.net"
    assert storage.connection_string is None


def test_every_variable_the_parameter_file_reads_is_documented_in_the_operations_guide_with_its_default():
    for name, value in parameters().items():
        variable, default = VARIABLE.match(value).groups()
        row = re.search(rf"^\| `{variable}` \| `{name}` \| ([^|]+) \|", OPERATIONS, re.MULTILINE)
        assert row, f"{variable} ({name}) is not documented"
        if default:  # the guide states the default the parameter file gives
            assert row.group(1).strip() == f"`{default}`", (variable, row.group(1))


# -- .funcignore ---------------------------------------------------------------------------------------------------
PATTERN = re.compile(r"^(/)?([A-Za-z0-9_.*-]+)(/)?$")  # the gitignore subset this check evaluates faithfully


def ignored(patterns: list[tuple[bool, str, bool]], path: str, is_dir: bool) -> bool:
    """gitignore matching for single-segment patterns: `/x` anchors at the root, a trailing `/` matches dirs."""
    parts = path.split("/")
    name = parts[-1]
    for anchored, glob, dirs_only in patterns:
        if dirs_only and not is_dir:
            continue
        if anchored and len(parts) != 1:
            continue
        if re.fullmatch(re.escape(glob).replace(r"\*", "[^/]*"), name):
            return True
    return False


def packaged() -> set[str]:
    """The files azd zips for the app: everything under the project except what .funcignore excludes."""
    lines = [line.strip() for line in (ROOT / ".funcignore").read_text().splitlines()]
    rules = [line for line in lines if line and not line.startswith("#")]
    bad = [line for line in rules if not PATTERN.match(line)]
    assert not bad, f"patterns outside the subset this test evaluates: {bad}"
    patterns = [(bool(m[1]), m[2], bool(m[3])) for m in map(PATTERN.match, rules)]
    files = set()
    for directory, dirs, names in os.walk(ROOT):
        relative = Path(directory).relative_to(ROOT).as_posix()
        prefix = "" if relative == "." else f"{relative}/"
        dirs[:] = [d for d in dirs if not ignored(patterns, prefix + d, True) and d != ".azure"]
        files |= {prefix + n for n in names if not ignored(patterns, prefix + n, False)}
    return files


def test_the_package_holds_the_app_and_nothing_of_the_repositorys_tooling():
    files = packaged()
    assert {"function_app.py", "host.json", "requirements.txt", "shared/report/schema.json"} <= files
    code = {p.relative_to(ROOT).as_posix() for d in ("shared", "functions") for p in (ROOT / d).rglob("*.py")}
    assert code <= files
    tooling = ("tests/", "emulator/", "bench/", "demo/", "node_modules/", ".git/", ".venv/", ".venv-checkov/", "infra/")
    assert not [f for f in files if f.startswith(tooling) or "__pycache__" in f or f.endswith(".pyc")]
    assert "local.settings.json" not in files and "local.settings.json.example" not in files


# -- one provision, every managed subscription ---------------------------------------------------------------------
SUB_A = "11111111-1111-4111-8111-111111111111"
SUB_B = "22222222-2222-4222-8222-222222222222"
TOPIC_B = f"/subscriptions/{SUB_B}/resourceGroups/Default-EventGrid/providers/Microsoft.EventGrid/systemTopics/sub-b"


def managed(**params) -> list[Template]:
    return Template("main.bicep", params, Deployment(subscription_id=SUB_A)).module("managed")


def test_one_provision_puts_the_role_and_the_event_subscription_into_each_managed_subscription():
    modules = managed(managedSubscriptions=f'["{SUB_A}", "{SUB_B.upper()}"]', existingSystemTopics=TOPIC_B,
                      deployEventSubscription=True)  # fmt: skip
    assert [m.deployment.subscription_id for m in modules] == [SUB_A, SUB_B]
    for module in modules:
        [role] = module.module("role")
        assert role.deployment.subscription_id == module.deployment.subscription_id
        [events] = module.module("events")
        assert events.deployment.subscription_id == module.deployment.subscription_id
    new, reused = (m.module("events")[0] for m in modules)
    # no topic in A: one is created, in a resource group of ours; B's existing topic is reused, not recreated
    assert [n for _, kind, n in modules[0].names()] == [new.deployment.resource_group]
    assert [s for s, _, _ in new.names()] == ["newTopic", "subscriptionToFunction", "subscriptionToFunction"]
    assert modules[1].names() == [] and reused.deployment.resource_group == "Default-EventGrid"
    kind = "Microsoft.EventGrid/systemTopics/eventSubscriptions"
    assert reused.names() == [("subscriptionToFunction", kind, "sub-b/sc-autopilot-resource-events"),
                              ("subscriptionToFunction", kind, "sub-b/sc-autopilot-resource-events-2")]  # fmt: skip
    for body, local in reused.instances("resources", "subscriptionToFunction"):  # the topic lacks our identity
        assert reused.value(body["properties"]["deadLetterWithResourceIdentity"], local) is None


def test_the_roles_come_first_and_the_events_only_once_asked_for():
    [module] = managed()
    assert module.deployment.subscription_id == SUB_A  # empty: the resource group's own subscription
    assert len(module.module("role")) == 1 and module.module("events") == [] and module.names() == []
    main = Template("main.bicep", {"managedSubscriptions": f" {SUB_A} , {SUB_B}"})
    assert main.variable("subscriptionIds") == [SUB_A, SUB_B]
