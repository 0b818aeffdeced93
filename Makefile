# trustbroker: a WS-Trust Security Token Service for Kubernetes.
#
# `make run` serves the standalone STS; `make test` builds and installs what the
# tests need (kube-apiserver, etcd, kubectl, helm from the Go module proxy; the
# Debian test tools when root) and runs every test.

include hack/versions.env

SHELL := /usr/bin/env bash -o pipefail
.SHELLFLAGS := -ec

BIN ?= $(CURDIR)/bin
CONTROLLER_GEN ?= $(BIN)/controller-gen
IMG ?= ghcr.io/trustbroker/trustbroker:dev
GO_TEST_FLAGS ?= -count=1
# envtest finds kube-apiserver, etcd and kubectl here.
export KUBEBUILDER_ASSETS := $(BIN)

.PHONY: all
all: build

##@ General

.PHONY: help
help: ## Show the targets.
	@awk 'BEGIN {FS = ":.*##"} /^[a-zA-Z_-]+:.*?##/ { printf "  \033[36m%-18s\033[0m %s\n", $$1, $$2 } /^##@/ { printf "\n\033[1m%s\033[0m\n", substr($$0, 5) }' $(MAKEFILE_LIST)

##@ Development

.PHONY: manifests
manifests: $(CONTROLLER_GEN) ## Write the CRDs and the operator's RBAC role from the Go markers.
	$(CONTROLLER_GEN) rbac:roleName=trustbroker-operator crd paths="./..." \
		output:crd:artifacts:config=config/crd/bases output:rbac:artifacts:config=config/rbac
	cp config/crd/bases/*.yaml charts/trustbroker/crds/
	cp config/rbac/role.yaml charts/trustbroker/files/operator-role.yaml

.PHONY: generate
generate: $(CONTROLLER_GEN) ## Write the DeepCopy methods of the API types.
	$(CONTROLLER_GEN) object paths="./api/..."

.PHONY: fmt
fmt: ## gofmt the tree.
	gofmt -w $$(git ls-files --cached --others --exclude-standard '*.go')

.PHONY: vet
vet: ## go vet, of the default and the pkcs11 build.
	go vet ./...
	CGO_ENABLED=1 go vet -tags pkcs11 ./...

.PHONY: verify
verify: $(CONTROLLER_GEN) ## Fail when generated files are stale or Go files are not gofmt'ed.
	hack/verify-generated.sh
	@unformatted=$$(gofmt -l $$(git ls-files --cached --others --exclude-standard '*.go')); \
		if [ -n "$$unformatted" ]; then echo "not gofmt'ed: $$unformatted" >&2; exit 1; fi

##@ Build

STANDALONE := config/samples/standalone

.PHONY: run
run: build ## Serve the standalone STS on http://127.0.0.1:8080/sts (dev signing key made on first run).
	$(BIN)/sts dev-key --name dev-sts-signing --out $(STANDALONE)/signing.key.yaml --cert-out $(BIN)/dev-sts-signing.crt
	$(BIN)/sts serve --manifests $(STANDALONE)

.PHONY: build
build: ## Build the sts and operator binaries into bin/.
	CGO_ENABLED=0 go build -trimpath -o $(BIN)/ ./cmd/...

.PHONY: build-pkcs11
build-pkcs11: ## Build bin/sts-pkcs11: the STS that signs through PKCS#11 (cgo, glibc; build tag pkcs11).
	CGO_ENABLED=1 go build -trimpath -tags pkcs11 -o $(BIN)/sts-pkcs11 ./cmd/sts

.PHONY: docker-build
docker-build: ## Build the container image (needs a Docker engine).
	docker build -t $(IMG) .
	docker build --target pkcs11 -t $(IMG)-pkcs11 .

IMAGE_TAR ?= $(BIN)/trustbroker-image.tar
ARCH ?= $(shell go env GOARCH)

.PHONY: image
image: ## Write the image $(IMG) as the OCI tarball bin/trustbroker-image.tar, without a Docker engine (`ctr images import`, `docker load`).
	CGO_ENABLED=0 GOOS=linux GOARCH=$(ARCH) go build -trimpath -ldflags="-s -w" -o $(BIN)/image/ ./cmd/...
	go run ./hack/imagebuild -ref $(IMG) -arch $(ARCH) -out $(IMAGE_TAR) -entrypoint /operator \
		$(BIN)/image/operator=/operator $(BIN)/image/sts=/sts

##@ Test

.PHONY: tools
tools: ## Build kube-apiserver, etcd, kubectl, helm and controller-gen into bin/ (cached).
	hack/build-tools.sh

$(CONTROLLER_GEN): hack/versions.env
	hack/build-tools.sh controller-gen

.PHONY: test-deps
test-deps: ## Install the Debian packages the tests run against (when root).
	hack/install-test-deps.sh

# Packages with tests of the pkcs11 build; of those outside internal/hsm
# only the tests named PKCS11 run again with the tag.
PKCS11_TEST_PACKAGES = $(shell grep -rl --include='*_test.go' '^//go:build pkcs11' internal cmd | xargs -r -n1 dirname | sort -u | grep -v '^internal/hsm$$' | sed 's|^|./|')

.PHONY: test
test: tools test-deps verify vet ## Run every test against the real parts.
	go test $(GO_TEST_FLAGS) ./...
	$(MAKE) test-pkcs11
	hack/fuzz.sh

E2E_TOOLS := kube-apiserver kubectl etcd helm kubelet kube-controller-manager kube-scheduler \
	containerd ctr containerd-shim-runc-v2 runc

.PHONY: e2e
e2e: ## As root: bring up a real single-node cluster here, helm install, run test/e2e, tear it all down.
	hack/e2e/cluster.sh deps
	hack/build-tools.sh $(E2E_TOOLS)
	$(MAKE) image
	E2E_IMAGE=$(IMG) IMAGE_TAR=$(IMAGE_TAR) hack/e2e/cluster.sh run

.PHONY: test-pkcs11
test-pkcs11: ## Run the tests of the pkcs11 build (cgo) against SoftHSM2.
	CGO_ENABLED=1 go test $(GO_TEST_FLAGS) -tags pkcs11 -timeout 5m ./internal/hsm/
	$(if $(strip $(PKCS11_TEST_PACKAGES)),CGO_ENABLED=1 go test $(GO_TEST_FLAGS) -tags pkcs11 -timeout 10m -run PKCS11 $(PKCS11_TEST_PACKAGES))

.PHONY: fuzz
fuzz: ## Run every fuzz target for FUZZTIME each (default 8s).
	hack/fuzz.sh

.PHONY: bench
bench: build ## Run the Go benchmarks, the hot-reload benchmark, the 1,000/10,000 relying-party rows and `sts bench` (tokens/s, latency, CPU per token vs one signature).
	go test -run '^$$' -bench . -skip 'RelyingPartyHonoured|RelyingPartiesAtScale' -benchmem ./...
	go test -run '^$$' -bench RelyingPartyHonoured -benchtime 100x ./test/kube
	go test -run '^$$' -bench RelyingPartiesAtScale -benchtime 20x -timeout 60m ./test/kube
	$(BIN)/sts dev-key --name dev-sts-signing --out $(STANDALONE)/signing.key.yaml
	$(BIN)/sts bench --manifests $(STANDALONE)

.PHONY: bench-pkcs11
bench-pkcs11: build build-pkcs11 ## `sts bench` of the pkcs11 build: adds rows signing through a SoftHSM2 token, beside its bare PKCS#11 signature.
	$(BIN)/sts dev-key --name dev-sts-signing --out $(STANDALONE)/signing.key.yaml
	$(BIN)/sts-pkcs11 bench --manifests $(STANDALONE)
