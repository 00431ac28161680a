"""The F-0421 field case carried to its fix: the cluster on 3.0.1 is diagnosed, a partner
system starts the rollout the diagnosis names over the operator API, a real Celery worker
with beat drives it, the simulated chargers download, install, reboot and come back on
3.1.0, the contactor fault stops, and a run of the runbook after the upgrade resolves on
the verify-fix step's evidence."""

import httpx
import pytest

from diagnostics.models import Alert, RunbookExecution
from diagnostics.services.runbooks import engine
from fleet.actors import Actor
from fleet.models import CampaignDevice, Device, DeviceEvent, FirmwareCampaign, FirmwareUpdate
from fleet.services import provisioning
from tests.celery_worker import WorkerProcess, worker_database_url
from tests.live_server import eventually
from tests.scenarios.cases import CASES
from tests.scenarios.field import (
    OPERATOR,
    engineer,
    faults,
    field_fleet,
    start_from_alert,
    sweep,
    walk,
)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]
PACKAGE = "https://firmware.example.com/tp-dc180/3.1.0.bin"


def test_the_rollout_the_diagnosis_names_fixes_the_cluster_and_a_later_run_resolves(
    server, tmp_path
):
    case = CASES["f0421-cluster"]
    with field_fleet(server, tmp_path, [case.scenario], chargers=3):
        eventually(lambda: faults("F-0421") >= 9, 120, "F-0421 three times on each of three")
        sweep()
        # A cluster names no charger: the run starts from a clustered charger's own alert.
        repeat = Alert.objects.filter(detector="repeat_fault", fault_code="F-0421").first()
        assert repeat is not None
        browser, actor = engineer()
        run, _ = walk(actor, start_from_alert(browser, repeat), case.answers, within=60)
        assert run.status == "diagnosed", run.moves
        fix = run.outcome_action
        assert (fix["from_version"], fix["target_version"]) == ("3.0.1", "3.1.0")

        worker = WorkerProcess(
            tmp_path, worker_database_url(), {"TELLUS_CAMPAIGN_INTERVAL_SECONDS": "1"}
        )
        worker.start()
        try:
            campaign_id = start_the_rollout(server.url, fix)
            eventually(
                lambda: FirmwareCampaign.objects.get(campaign_id=campaign_id).status == "completed",
                180,
                "the campaign completed",
            )
        finally:
            worker.stop()

        states = set(CampaignDevice.objects.values_list("state", flat=True))
        assert states == {"succeeded"}, states
        assert set(Device.objects.values_list("firmware_version", flat=True)) == {"3.1.0"}
        charger = run.device
        upgraded_at = FirmwareUpdate.objects.get(device=charger, status="success").updated_at

        # The new build charges without the contactor fault: a run now verifies the fix.
        again = engine.start_run(actor, charger, run.runbook_id)
        again, trail = walk(actor, again, case.answers, within=120)
        assert again.status == RunbookExecution.Status.RESOLVED, trail
        assert again.current_step == "verify-fix"
        deciding = again.results.filter(step_key="verify-fix").order_by("-at").first()
        assert deciding.evidence["verdict"] == "Fixed"
        assert deciding.evidence["upgraded_to"] == "3.1.0"
        assert not DeviceEvent.objects.filter(
            device=charger, fault_code="F-0421", timestamp__gt=upgraded_at
        ).exists()


def start_the_rollout(base_url: str, fix: dict) -> str:
    """The rollout the diagnosis names, asked for as a partner system would."""
    client, secret = provisioning.create_operator_client(
        Actor.platform(), OPERATOR, ["read", "write"]
    )
    with httpx.Client(base_url=base_url, timeout=30) as http:
        token = http.post(
            "/v1/operator/oauth/token",
            json={
                "client_id": client.client_id,
                "client_secret": secret,
                "grant_type": "client_credentials",
            },
        ).json()["access_token"]
        answer = http.post(
            "/v1/operator/firmware-campaigns",
            headers={"Authorization": f"Bearer {token}"},
            json={
                "name": f"Fix {fix['fault_code']} on {fix['model']} {fix['from_version']}",
                "target_version": fix["target_version"],
                "package_url": PACKAGE,
                "selection": {
                    "model": fix["model"],
                    "firmware_versions": [fix["from_version"]],
                },
                "stages": [100],
                "health_window_minutes": 0,
                "halt_if": {"failed_percent": 50, "fault_codes": [fix["fault_code"]]},
            },
        )
    assert answer.status_code == 200, answer.text
    return answer.json()["data"]["campaign_id"]
