"""Growing StatefulSets' volumes in place (platform_components/volumes.py), under mocks: the
StatefulSets never replaced for a size, a claim patch per claim, and the preview checks against
the last deployment's sizes and the cluster's StorageClass."""

from __future__ import annotations

import pytest

from infra.offline import OfflineRun, run_offline
from platform_components.volumes import VolumeClaim, VolumeGrowthError, size_changes
from tests.unit.conftest import STACKS, _stack_run

PVC = "kubernetes:core/v1:PersistentVolumeClaim"
STORAGE_CLASS = "kubernetes:storage.k8s.io/v1:StorageClass"
PATCH = "kubernetes:core/v1:PersistentVolumeClaimPatch"


def deployed(run: OfflineRun, *, expandable: bool) -> OfflineRun:
    """`run` as the last deployment: its volumeSizes, and its claims on a class that can expand or not."""
    sizes, _ = run.outputs["volumeSizes"]
    namespace = run.outputs["namespace"][0]
    last = OfflineRun(run.stack, deployed_outputs={"volumeSizes": sizes})
    last.live_objects = {(PVC, f"{namespace}/{claim}"): {"spec": {"storageClassName": "standard"}} for claim in sizes}
    last.live_objects[(STORAGE_CLASS, "standard")] = {"allowVolumeExpansion": expandable}
    return last


@pytest.mark.parametrize("stack", STACKS)
def test_statefulsets_ignore_their_claim_sizes_and_each_claim_is_patched_to_its_size(stack):
    run = _stack_run(stack)
    sizes, _ = run.outputs["volumeSizes"]
    statefulsets = run.of_type("kubernetes:apps/v1:StatefulSet")
    for statefulset in statefulsets:
        templates = statefulset.inputs["spec"]["volumeClaimTemplates"]
        ignored = run.options[(statefulset.typ, statefulset.name)].ignore_changes
        assert ignored == tuple(f"spec.volumeClaimTemplates[{i}].spec.resources.requests.storage"
                                for i in range(len(templates)))
    patches = {p.inputs["metadata"]["name"]: p for p in run.of_type(PATCH)}
    assert set(patches) == set(sizes)
    for name, patch in patches.items():
        assert patch.inputs["spec"] == {"resources": {"requests": {"storage": sizes[name]}}}
        assert patch.inputs["metadata"]["annotations"] == {"pulumi.com/patchForce": "true"}
        assert run.options[(PATCH, patch.name)].retain_on_delete


def test_the_first_deployment_reads_nothing_from_the_cluster():
    run = _stack_run("dev")
    assert not run.of_type(PVC) and not run.of_type(STORAGE_CLASS)


def test_growing_a_volume_reads_its_storage_class_and_passes_where_it_can_expand():
    last = deployed(_stack_run("dev"), expandable=True)
    run = run_offline("dev", {"postgresStorageSize": "10Gi"}, deployed=last)
    assert run.outputs["volumeSizes"][0]["data-postgres-0"] == "10Gi"
    assert [r.name for r in run.of_type(STORAGE_CLASS)] == ["volume-growth-class-data-postgres-0"]


def test_growing_a_volume_on_a_class_without_expansion_fails_naming_the_setting():
    last = deployed(_stack_run("dev"), expandable=False)
    with pytest.raises(VolumeGrowthError) as caught:
        run_offline("dev", {"redisStorageSize": "4Gi"}, deployed=last)
    message = str(caught.value)
    assert "redisStorageSize 4Gi would grow volume claim mlops/data-redis-0" in message
    assert "StorageClass 'standard' does not allow volume expansion" in message


def test_shrinking_a_volume_fails_before_reading_the_cluster():
    last = deployed(_stack_run("dev"), expandable=True)
    with pytest.raises(VolumeGrowthError) as caught:
        run_offline("dev", {"postgresStorageSize": "4Gi"}, deployed=last)
    assert "postgresStorageSize 4Gi is smaller than the 8Gi of volume claim mlops/data-postgres-0" in str(caught.value)


def test_size_changes_compare_quantities_not_strings():
    claims = [VolumeClaim("ns", "a", "1024Mi", "k"), VolumeClaim("ns", "b", "2Gi", "k"), VolumeClaim("ns", "c", "1Gi", "k")]
    grown, problems = size_changes({"a": "1Gi", "b": "1536Mi"}, claims)
    assert [c.name for c in grown] == ["b"] and problems == []
