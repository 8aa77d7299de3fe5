# Eric's commands. `make help` lists them.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

INSTALL_STAMP := node_modules/.eric-installed
PACKAGE_FILES := package.json package-lock.json $(wildcard services/*/package.json)

.PHONY: help install build typecheck test test-unit test-integration run kafka-start kafka-stop kafka-status clean

help: ## List the commands
	@grep -hE '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-18s %s\n", $$1, $$2}'

$(INSTALL_STAMP): $(PACKAGE_FILES) scripts/install.sh
	scripts/install.sh
	touch $@

install: $(INSTALL_STAMP) ## Install system and npm dependencies (builds the native Kafka client if needed)

build: install ## Compile all TypeScript packages to dist/
	npx tsc --build

typecheck: build

# The cluster tests (test/k8s) are part of `make test`; they need root (a kubelet runs pods).
# ERIC_K8S_TESTS=0 leaves them out, e.g. on a laptop without root.
ERIC_K8S_TESTS ?= 1
export ERIC_K8S_TESTS

test: build ## Run every test: unit, integration on a real broker, then Eric in pods on a local cluster (root; ERIC_K8S_TESTS=0 leaves that out): the CI command
	scripts/install.sh --browser
	scripts/install-tools.sh
	scripts/kafka.sh fetch
	mkdir -p .cache
	rm -f .cache/test-report*.json
	npx vitest run --project unit --project integration --reporter=default --reporter=json --outputFile.json=.cache/test-report.json || status=$$?; \
	  reports=.cache/test-report.json; \
	  if [ "$$ERIC_K8S_TESTS" != 0 ] && [ "$$(id -u)" != 0 ]; then \
	    echo "make test: the cluster tests need root (a kubelet and containerd run the pods): run as root, or ERIC_K8S_TESTS=0 make test to leave them out" >&2; \
	    status=1; \
	  elif [ "$$ERIC_K8S_TESTS" != 0 ]; then \
	    $(MAKE) --no-print-directory k8s-prerequisites && \
	    npx vitest run --project k8s --reporter=default --reporter=json --outputFile.json=.cache/test-report-k8s.json || status=$$?; \
	    reports="$$reports .cache/test-report-k8s.json"; \
	  else \
	    echo "make test: the cluster tests (test/k8s) were left out (ERIC_K8S_TESTS=0); make test-k8s runs them alone"; \
	  fi; \
	  node scripts/test-summary.mjs $$reports; exit $${status:-0}

test-unit: install ## Run the unit tests only (no broker)
	npx vitest run --project unit

test-integration: install ## Run the integration tests only (starts a test broker on port 19092)
	npx vitest run --project integration

run: build ## Start Eric locally without Docker: broker and services, restarted if they exit (Ctrl-C stops them)
	scripts/run-local.sh

kafka-start: ## Start the local Kafka broker (port 9092) unless KAFKA_BROKERS is set
	scripts/kafka.sh start

kafka-stop: ## Stop the local Kafka broker
	scripts/kafka.sh stop

kafka-status: ## Say whether the local broker runs
	scripts/kafka.sh status

clean: ## Remove build output (keeps node_modules, the Kafka jars and broker data)
	npx tsc --build --clean

.PHONY: produce bench-producer

produce: build ## Send synthetic visits with the original's CLI, e.g. make produce ARGS="--frequency 5"
	scripts/kafka.sh start
	node services/producer/dist/cli.js $(ARGS)

bench-producer: build ## Measure the producer: bulk generator and HTTP ingestion (autocannon), visits/s and p99
	scripts/kafka.sh start
	node services/producer/bench/bench.mjs

.PHONY: bench-aggregator

bench-aggregator: build ## Measure the aggregator: visits/s with P = 1 and 4 (exactly-once), restore rate, memory per 1 M ids
	scripts/kafka.sh start
	node services/aggregator/bench/dist/aggregator-bench.js

.PHONY: bench-window-cap

bench-window-cap: build ## 2 M distinct ids sent to one key at the default AGGREGATOR_MAX_IDS_PER_WINDOW: counted, dead-lettered, the aggregator's peak RSS (BENCH_IDS)
	scripts/kafka.sh start
	node services/aggregator/bench/dist/window-cap-bench.js

.PHONY: bench-gateway

bench-gateway: build ## Measure the gateway: websocket fan-out to 1 000 and 10 000 clients at 100 records/s, p50/p99, CPU, memory
	scripts/kafka.sh start
	ulimit -n "$$(ulimit -Hn)"; export KAFKA_BROKERS="$${KAFKA_BROKERS:-127.0.0.1:$${KAFKA_PORT:-9092}}"; \
	  BENCH_ACCOUNTS=0 node services/gateway/bench/fanout.mjs; \
	  BENCH_ACCOUNTS=100 node services/gateway/bench/fanout.mjs

.PHONY: bench-gateway-hostile

bench-gateway-hostile: build ## The gateway against one window of 200 000 counts and a setFilter flood from a client that never reads: REST and websocket snapshot times, RSS, queued bytes (BENCH_KEYS, BENCH_FLOOD_MESSAGES)
	scripts/kafka.sh start
	export KAFKA_BROKERS="$${KAFKA_BROKERS:-127.0.0.1:$${KAFKA_PORT:-9092}}"; node services/gateway/bench/hostile.mjs

.PHONY: stress-broker-outage

stress-broker-outage: build ## Stop or freeze the broker 20 times under traffic (1, 3, 10, 40 s): prints recovery times and exactness (STRESS_RUNS, STRESS_OUTAGES)
	npx vitest run --project stress test/stress/broker-outage.stress.ts

.PHONY: bench

bench: build ## Measure the whole pipeline (producer, 4 aggregators, gateway, websocket client): highest sustained visits/s, lag, finals' delay, CPU/RSS, recovery after a SIGKILL
	scripts/kafka.sh start
	node bench/dist/pipeline-bench.js

.PHONY: bench-faults

bench-faults: build ## Eric on the three-node TLS/SCRAM/ACL cluster (ports 9301-9313) under broker faults one after another (leaders, controller, transaction coordinator, a long stop): acknowledged vs counted, exact/doubled/missing windows, recovery, finals' delay (BENCH_RATE, BENCH_PARTITIONS, BENCH_FAULTS, BENCH_SETTLE_SECONDS, BENCH_KEEP_CLUSTER=1)
	scripts/kafka.sh fetch
	node bench/dist/fault-bench.js

.PHONY: soak

soak: build ## The pipeline as `make run` starts it (own broker on 18092, ports 16060-16073) under traffic for SOAK_MINUTES (60) while a nemesis kills an aggregator or the gateway, freezes or restarts the broker, starves the CPU every ~SOAK_FAULT_INTERVAL_SECONDS (150, seeded by SOAK_SEED): recoveries, RSS, restarts, counters, exact/doubled/missing windows; exits 1 if a window is wrong (SOAK_RATE, SOAK_KAFKA_PORT, SOAK_PORT_BASE)
	scripts/kafka.sh fetch
	node bench/dist/soak.js

.PHONY: bench-node-down

bench-node-down: build ## An aggregator's CPU per process and per thread with every node of the three-node secured cluster up, then one frozen (SIGSTOP) and one down (SIGKILL) (ports 9501-9513); recovery after (BENCH_RATE, BENCH_PARTITIONS, BENCH_MEASURE_SECONDS, BENCH_MODES)
	scripts/kafka.sh fetch
	node bench/dist/node-down-cpu.js

.PHONY: bench-compare

KS_BENCH_JAR := bench/kafka-streams/target/eric-kafka-streams-bench.jar

# The Kafka Streams application of the same topology: one runnable jar (Maven keeps what it
# downloads in ~/.m2, so later builds work offline).
$(KS_BENCH_JAR): bench/kafka-streams/pom.xml $(shell find bench/kafka-streams/src -type f 2>/dev/null)
	scripts/install.sh --jdk
	mvn --batch-mode --quiet -Dstyle.color=never --file bench/kafka-streams/pom.xml package
	touch $@

comma := ,
# The jar only when Kafka Streams runs (BENCH_SYSTEMS, default both).
bench-compare: build $(if $(filter ks,$(subst $(comma), ,$(or $(BENCH_SYSTEMS),ks))),$(KS_BENCH_JAR)) ## Eric side by side with Kafka Streams (same topology, broker and 1 M visits): visits/s, CPU µs per visit, peak RSS, exactness, ratios (BENCH_VISITS, BENCH_SYSTEMS=ks,eric)
	scripts/kafka.sh start
	export KAFKA_BROKERS="$${KAFKA_BROKERS:-127.0.0.1:$${KAFKA_PORT:-9092}}"; node bench/dist/compare-bench.js

.PHONY: tools chart-values

tools: ## Install the packaging tools (helm, kubeconform, schemas, Prometheus) into ~/.cache/eric/tools
	scripts/install-tools.sh

chart-values: ## Print the Helm chart values table of docs/kubernetes.md from values.yaml and values.schema.json
	@node scripts/chart-values-table.mjs

.PHONY: image image-kafka k8s-up k8s-down k8s-status test-k8s k8s-prerequisites skaffold

image: ## Build Eric's image from the Dockerfile without Docker: buildah, a local Node.js base (TAG=dev)
	scripts/image.sh eric $(or $(TAG),dev)

image-kafka: ## Build the bundled broker's image without Docker Hub: Debian's JRE and Kafka's jars
	scripts/image.sh kafka

skaffold: ## Build the pinned skaffold from the Go module proxy (once) and print its path
	scripts/skaffold.sh --path

k8s-up: ## Start a Kubernetes control plane on loopback (the first run builds it: see docs/kubernetes.md)
	scripts/k8s-local.sh up

k8s-down: ## Stop the local Kubernetes control plane (scripts/k8s-local.sh reset also deletes its data)
	scripts/k8s-local.sh down

k8s-status: ## Say whether the local Kubernetes control plane runs
	scripts/k8s-local.sh status

test-k8s: build k8s-prerequisites ## Eric in pods on a local Kubernetes node (root): the chart, the images built here, the pipeline through port-forward, skaffold
	npx vitest run --project k8s

# What the cluster tests need built: the tools, Kubernetes, the images, skaffold (each cached;
# a cold Kubernetes build uses both cores unless K8S_BUILD_JOBS says otherwise).
k8s-prerequisites:
	scripts/install-tools.sh
	scripts/kafka.sh fetch
	K8S_BUILD_JOBS=$${K8S_BUILD_JOBS:-2} scripts/k8s-local.sh build
	scripts/image.sh eric dev
	scripts/image.sh kafka
	scripts/skaffold.sh --path >/dev/null
