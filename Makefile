# The local Kubernetes set-up for development (docs/deployment.md, "Local development with Tilt"):
#   make up      create the k3d cluster "taskmanager" (dev/k3d-config.yaml: ingress on
#                http://localhost, image registry on localhost:5005)
#   tilt up      build and deploy TaskManager into it (Tiltfile; admin / supersecretpassword)
#   tilt down    remove the deployment
#   make down    delete the cluster and its registry
# Needs docker, k3d (https://k3d.io), and for tilt up also tilt, kubectl and helm.

K3D ?= k3d
CLUSTER := taskmanager

.PHONY: help up down

help:
	@sed -n 's/^# \{0,1\}//p;/^$$/q' $(firstword $(MAKEFILE_LIST))

up: check-k3d
	$(K3D) cluster create --config dev/k3d-config.yaml
	@echo "Cluster $(CLUSTER) is up. Next: tilt up (TaskManager at http://localhost/taskmanager/)."

down: check-k3d
	$(K3D) cluster delete $(CLUSTER)

.PHONY: check-k3d
check-k3d:
	@command -v $(K3D) >/dev/null 2>&1 || { echo "make: $(K3D) is not installed; make up/down manage a k3d cluster (https://k3d.io), with docker running" >&2; exit 1; }
