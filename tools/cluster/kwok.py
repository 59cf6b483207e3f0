"""What kwok simulates on the local control plane: one node sized like a default minikube, the
pods minikube runs on it, a default StorageClass, and the Stages that move objects along.

kwok runs no containers. Its Stages (kwok's own release files, copied by tools/install/kwok.sh)
play the kubelet and the volume provisioner: a scheduled pod becomes Running and Ready, a Job's pod
Succeeded, a claim of the default StorageClass gets a bound PersistentVolume. One Stage of ours,
`pvc-resize`, plays the CSI resizer: a bound claim whose request grew gets that capacity.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

# minikube's own StorageClass name (its storage-provisioner addon); ours allows expansion, as
# AKS's managed-csi classes do, so that growing a volume can be exercised.
STORAGE_CLASS = "standard"
KWOK_STORAGE_CLASS = "kwok-volume"  # the name kwok's volume Stages select on


@dataclass(frozen=True)
class NodeSize:
    """The node's allocatable resources.

    Defaults: what `minikube start` gives with no flags on a 16 GiB machine: 2 CPUs, and 25% of
    RAM bounded to 2200-6000 MiB, i.e. 4000 MiB (minikube's `suggestMemoryAllocation`)."""

    cpu: str = "2"
    memory: str = "4000Mi"
    pods: str = "110"


# The requests of the pods `minikube start` runs in kube-system (kubeadm's static pods and
# CoreDNS; kube-proxy and storage-provisioner request nothing): 750m CPU and 170Mi in all.
MINIKUBE_SYSTEM_PODS = {
    "etcd": ("100m", "100Mi"),
    "kube-apiserver": ("250m", None),
    "kube-controller-manager": ("200m", None),
    "kube-scheduler": ("100m", None),
    "coredns": ("100m", "70Mi"),
}

PVC_RESIZE_STAGE = {
    "apiVersion": "kwok.x-k8s.io/v1alpha1",
    "kind": "Stage",
    "metadata": {"name": "pvc-resize"},
    "spec": {
        "resourceRef": {"apiGroup": "v1", "kind": "PersistentVolumeClaim"},
        "selector": {
            "matchExpressions": [
                {"cel": {"expression": "self.status.phase == 'Bound'"}},
                {"cel": {"expression": "has(self.status.capacity)"}},
                {"cel": {"expression": "self.spec.resources.requests.storage != self.status.capacity.storage"}},
            ]
        },
        "next": {
            "statusTemplate": "capacity:\n  storage: {{ .spec.resources.requests.storage | Quote }}\n",
        },
    },
}


def kwok_config(stages_dir: Path) -> str:
    """kwok's --config: its release Stages, pointed at our StorageClass, plus `pvc-resize`."""
    documents = []  # Stages only: a KwokConfiguration document would replace kwok's defaults with zeros
    for path in sorted(stages_dir.glob("*.yaml")):
        text = path.read_text().replace(f"'{KWOK_STORAGE_CLASS}'", f"'{STORAGE_CLASS}'")
        documents.extend(doc for doc in yaml.safe_load_all(text) if doc)
    documents.append(PVC_RESIZE_STAGE)
    return yaml.safe_dump_all(documents, sort_keys=False)


def node_manifest(name: str, size: NodeSize) -> dict:
    resources = {"cpu": size.cpu, "memory": size.memory, "pods": size.pods}
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "annotations": {"kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0"},
            "labels": {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64",
                       "node-role.kubernetes.io/control-plane": "", "type": "kwok"},
        },
        "status": {"allocatable": resources, "capacity": resources},
    }


def storage_class_manifest(allow_expansion: bool = True) -> dict:
    return {
        "apiVersion": "storage.k8s.io/v1",
        "kind": "StorageClass",
        "metadata": {"name": STORAGE_CLASS,
                     "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}},
        "provisioner": "kwok.x-k8s.io/volume",
        "reclaimPolicy": "Delete",
        "volumeBindingMode": "Immediate",
        "allowVolumeExpansion": allow_expansion,
    }


def minikube_system_pods() -> list[dict]:
    """Stand-ins for minikube's kube-system pods, with their requests, so the scheduler counts them."""
    pods = []
    for name, (cpu, memory) in MINIKUBE_SYSTEM_PODS.items():
        requests = {"cpu": cpu} | ({"memory": memory} if memory else {})
        pods.append({
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": name, "namespace": "kube-system", "labels": {"component": name}},
            "spec": {
                "priorityClassName": "system-node-critical",
                "containers": [{"name": name, "image": "registry.k8s.io/pause:3.10",
                                "resources": {"requests": requests}}],
            },
        })
    return pods
