# Rill build. `make` builds bin/rill; `make test` runs every test; `make run`
# starts a broker on localhost:9092 with data under ./data; `make bench`
# measures it. SAN=1 builds and tests with AddressSanitizer and
# UndefinedBehaviorSanitizer (into build/san, so both builds coexist).

CC      ?= gcc
SAN     ?= 0
DATA    ?= ./data

ifeq ($(SAN),1)
BUILD   := build/san
# Leaks fail a run (exit code 23); any UB report aborts the process.
SANENV  := ASAN_OPTIONS=detect_leaks=1:exitcode=23:abort_on_error=0 \
           UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 RILL_SANITIZED=1
SANFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
OPT     := -O1 -g
else
BUILD   := build/release
SANENV  :=
SANFLAGS :=
OPT     := -O2 -g
endif

BIN     := $(BUILD)/bin/rill
GEN     := $(BUILD)/gen

PKGS    := libevent libevent_pthreads rocksdb libzstd liblz4 zlib libprotobuf-c
CFLAGS  += -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wshadow -Wno-missing-field-initializers \
           $(OPT) $(SANFLAGS) -I. -I$(GEN) -MMD -MP -pthread
LDFLAGS += $(SANFLAGS) -pthread
LDLIBS  += $(shell pkg-config --libs $(PKGS) 2>/dev/null || echo -levent -levent_pthreads -lrocksdb -lzstd -llz4 -lz -lprotobuf-c) -lsnappy -lm

PROTO_SRC  := $(wildcard proto/*.proto)
PROTO_GEN  := $(patsubst proto/%.proto,$(GEN)/proto/%.pb-c.c,$(PROTO_SRC))

COMMON_SRC := $(wildcard common/*.c)
PROTOC_SRC := $(wildcard proto/*.c)
STORAGE_SRC:= $(wildcard storage/*.c)
META_SRC   := $(wildcard metadata/*.c)
RAFT_SRC   := $(wildcard raft/*.c)
BROKER_SRC := $(filter-out broker/main.c,$(wildcard broker/*.c broker/*/*.c))

LIB_SRC := $(COMMON_SRC) $(PROTOC_SRC) $(STORAGE_SRC) $(META_SRC) $(RAFT_SRC) $(BROKER_SRC)
LIB_OBJ := $(patsubst %.c,$(BUILD)/obj/%.o,$(LIB_SRC)) $(PROTO_GEN:.c=.o)
LIB     := $(BUILD)/librill.a

UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(BUILD)/bin/unit-tests

.SECONDARY:

.PHONY: all run test unit sim sim-sweep compat-debian compat chaos bench bootstrap check-source docs clean \
        fuzz fuzz-build fuzz-smoke fuzz-seeds

all: $(BIN)

bootstrap:
	@scripts/bootstrap

$(GEN)/proto/%.pb-c.c $(GEN)/proto/%.pb-c.h: proto/%.proto
	@mkdir -p $(GEN)/proto
	protoc-c --c_out=$(GEN) $<

$(GEN)/proto/%.pb-c.o: $(GEN)/proto/%.pb-c.c
	$(CC) $(filter-out -Werror -Wshadow,$(CFLAGS)) -c -o $@ $<

$(BUILD)/obj/%.o: %.c $(PROTO_GEN)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

$(LIB): $(LIB_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@
	ar rcs $@ $^

$(BIN): $(BUILD)/obj/broker/main.o $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)
	@if [ "$(SAN)" != "1" ]; then mkdir -p bin && ln -sf ../$(BIN) bin/rill; fi

$(UNIT_BIN): $(patsubst %.c,$(BUILD)/obj/%.o,$(UNIT_SRC) tests/unit/unit_main.c) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) $(shell pkg-config --libs check 2>/dev/null || echo -lcheck -lsubunit -lrt -lm)

check-source:
	@scripts/check-source

unit: $(UNIT_BIN)
	$(SANENV) $(UNIT_BIN)

# The deterministic Raft simulation (tests/sim/): raft/ alone, no libevent,
# no sockets, no threads, no clock. `make sim` runs SIM_SEEDS seeds (as
# `make test` does); `make sim-sweep` runs a longer sweep from SIM_FIRST.
SIM_BIN   := $(BUILD)/bin/raft-sim
SIM_SEEDS ?= 10000
SIM_FIRST ?= 1
SIM_SWEEP ?= 200000
$(SIM_BIN): $(BUILD)/obj/tests/sim/raft_sim.o $(patsubst %.c,$(BUILD)/obj/%.o,$(RAFT_SRC) common/assert.c)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^

# The controller simulation: metadata/ decisions over a simulated log,
# clock and set of brokers (tests/sim/controller_sim.c).
CSIM_BIN   := $(BUILD)/bin/controller-sim
CSIM_SEEDS ?= 2000
CSIM_SWEEP ?= 50000
$(CSIM_BIN): $(BUILD)/obj/tests/sim/controller_sim.o \
             $(patsubst %.c,$(BUILD)/obj/%.o,$(META_SRC) common/arena.c common/assert.c \
                                              common/rill_error.c) \
             $(GEN)/proto/metadata.pb-c.o
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(shell pkg-config --libs libprotobuf-c libzstd 2>/dev/null || echo -lprotobuf-c -lzstd)

sim: $(SIM_BIN) $(CSIM_BIN)
	$(SANENV) $(SIM_BIN) --seeds $(SIM_SEEDS) --first $(SIM_FIRST)
	$(SANENV) $(CSIM_BIN) --seeds $(CSIM_SEEDS) --first $(SIM_FIRST)

sim-sweep: $(SIM_BIN) $(CSIM_BIN)
	$(SANENV) $(SIM_BIN) --seeds $(SIM_SWEEP) --first $(SIM_FIRST)
	$(SANENV) $(CSIM_BIN) --seeds $(CSIM_SWEEP) --first $(SIM_FIRST)

# The power-loss filesystem for tests (tests/powerloss/, FUSE 3).
POWERLOSS := $(BUILD)/bin/rill-powerloss
$(POWERLOSS): $(wildcard tests/powerloss/*.c tests/powerloss/*.h)
	@mkdir -p $(dir $@)
	$(CC) -std=c11 -D_GNU_SOURCE $(OPT) $(SANFLAGS) -Wall -Wextra -Werror -Wshadow \
	    -Wno-missing-field-initializers -I. $(shell pkg-config --cflags fuse3) -o $@ \
	    $(filter %.c,$^) $(shell pkg-config --libs fuse3)

# Client compatibility, persistence and bad-input tests: real broker
# processes and the Debian-packaged Kafka clients.
compat-debian: $(BIN) $(POWERLOSS)
	RILL_BIN=$(abspath $(BIN)) RILL_POWERLOSS_BIN=$(abspath $(POWERLOSS)) $(SANENV) \
	    /usr/bin/python3 tests/run.py

# The sanitized pass skips the fuzz smoke run: the fuzz build is always
# sanitized, so once per CI run is enough.
ifeq ($(SAN),1)
test: bootstrap check-source
	$(MAKE) all unit sim compat-debian
else
test: bootstrap check-source
	$(MAKE) all unit sim fuzz-smoke compat-debian
endif

# The long chaos run (tests/chaos/chaos.py): a three-node cluster under
# load while a seeded nemesis kills and pauses brokers, then a Jepsen-style
# check. `make test` runs a short one (tests/chaos/test_chaos.py).
SEED ?= 1
CHAOS_SECONDS = $(if $(filter command line environment,$(origin SECONDS)),$(SECONDS),300)
chaos: $(BIN)
	RILL_BIN=$(abspath $(BIN)) $(SANENV) /usr/bin/python3 tests/chaos/chaos.py $(SEED) \
	    $(CHAOS_SECONDS)

run: bootstrap
	$(MAKE) all
	$(BIN) --log.dirs=$(DATA) --listeners=PLAINTEXT://localhost:9092 \
	       --group.initial.rebalance.delay.ms=0

LOADGEN := $(BUILD)/bin/rill-loadgen

$(LOADGEN): scripts/bench/loadgen.c
	@mkdir -p $(dir $@)
	$(CC) -std=c11 -D_GNU_SOURCE -O2 -Wall -Wextra -Werror -o $@ $< -lrdkafka

# Clients from other registries (npm, Go module proxy, Maven Central, PyPI);
# a client that cannot be installed is reported as SKIPPED, loudly.
compat: bootstrap
	$(MAKE) all
	RILL_BIN=$(abspath $(BIN)) /usr/bin/python3 tests/compat/registry/run.py

bench: bootstrap
	$(MAKE) all $(LOADGEN)
	RILL_LOADGEN=$(LOADGEN) RILL_BIN=$(abspath $(BIN)) scripts/bench/run

# Coverage-guided fuzzing: libFuzzer harnesses (tests/fuzz/fuzz_*.c) over
# the decoders of hostile input, built with Debian's clang under ASan and
# UBSan (fatal on any report). `make test` replays every committed corpus
# and regression input and fuzzes each harness briefly; `make fuzz
# SECONDS=600` fuzzes each harness that long. scripts/fuzz runs them.
FUZZ_CC      := clang
FUZZ_BUILD   := build/fuzz
FUZZ_GEN     := $(FUZZ_BUILD)/gen
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
FUZZ_CFLAGS  := -std=c11 -D_GNU_SOURCE -g -O1 -Wall -Wextra -Werror -Wno-missing-field-initializers \
                -I. -I$(FUZZ_GEN) -MMD -MP -fsanitize=fuzzer-no-link $(FUZZ_SAN)
FUZZ_LIBS    := -lzstd -llz4 -lz -lsnappy -lprotobuf-c
FUZZ_LIB_SRC := $(COMMON_SRC) $(PROTOC_SRC) $(META_SRC) $(RAFT_SRC) broker/group/group_records.c \
                broker/quorum/raft_wire.c
FUZZ_LIB_OBJ := $(patsubst %.c,$(FUZZ_BUILD)/obj/%.o,$(FUZZ_LIB_SRC)) \
                $(FUZZ_BUILD)/obj/gen/proto/metadata.pb-c.o $(FUZZ_BUILD)/obj/gen/proto/rpc.pb-c.o
FUZZ_NAMES   := $(patsubst tests/fuzz/fuzz_%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_BINS    := $(patsubst %,$(FUZZ_BUILD)/bin/fuzz_%,$(FUZZ_NAMES))
SECONDS      ?= 600

$(FUZZ_GEN)/proto/%.pb-c.c $(FUZZ_GEN)/proto/%.pb-c.h: proto/%.proto
	@mkdir -p $(FUZZ_GEN)/proto
	protoc-c --c_out=$(FUZZ_GEN) $<

$(FUZZ_BUILD)/obj/gen/proto/%.pb-c.o: $(FUZZ_GEN)/proto/%.pb-c.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(filter-out -Werror,$(FUZZ_CFLAGS)) -c -o $@ $<

$(FUZZ_BUILD)/obj/%.o: %.c $(FUZZ_GEN)/proto/metadata.pb-c.h $(FUZZ_GEN)/proto/rpc.pb-c.h
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -c -o $@ $<

$(FUZZ_BUILD)/bin/fuzz_%: $(FUZZ_BUILD)/obj/tests/fuzz/fuzz_%.o $(FUZZ_LIB_OBJ)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) -fsanitize=fuzzer $(FUZZ_SAN) -o $@ $^ $(FUZZ_LIBS)

fuzz-build: bootstrap
	$(MAKE) $(FUZZ_BINS)

fuzz-smoke: fuzz-build
	scripts/fuzz --seconds 8 $(FUZZ_NAMES)

fuzz: fuzz-build
	scripts/fuzz --seconds $(SECONDS) $(FUZZ_NAMES)

# Regenerates the committed seed corpora and regression inputs with the
# project's own encoders (tests/fuzz/seeds.c).
FUZZ_SEEDS := $(BUILD)/bin/fuzz-seeds
$(FUZZ_SEEDS): $(BUILD)/obj/tests/fuzz/seeds.o $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

fuzz-seeds: $(FUZZ_SEEDS)
	rm -rf tests/fuzz/corpus
	$(SANENV) $(FUZZ_SEEDS) tests/fuzz

# The configuration reference, generated from the configuration table.
docs: $(BIN)
	@mkdir -p docs
	$(BIN) --config-docs > docs/configuration.md

clean:
	rm -rf build bin

-include $(shell find $(BUILD)/obj $(FUZZ_BUILD)/obj -name '*.d' 2>/dev/null)
