# streamfleet — top-level build.
#   make            build the three binaries into build/bin
#   make test       install missing packages, build (plain and ASan/UBSan), run every test
#   make demo       install missing packages, build, run a local cluster (DEMO_SECONDS=N to stop)
#   make bench      ingest and query benchmarks (figures in docs/benchmarks.md)
#   make deps       install missing Debian packages (needs root)

CC      ?= cc
BUILD   ?= build
CFLAGS  ?= -O2 -g
override CFLAGS += -std=gnu11 -Wall -Wextra -Werror -Wno-unused-parameter -Iinclude -D_GNU_SOURCE -pthread -MMD -MP
LDLIBS  := -lczmq -lzmq -lmsgpackc -llmdb -lsodium -lcurl -ljansson -lmicrohttpd -lexpat -lpthread -lm

LIB_SRC  := $(wildcard proto/*.c) \
            $(filter-out controller/main.c,$(wildcard controller/*.c)) \
            $(filter-out controller/cli/main.c,$(wildcard controller/cli/*.c)) \
            $(filter-out node-agent/main.c,$(wildcard node-agent/*.c))
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
# The web page, embedded into the controller (rules below, controller/web/embed.sh)
WEB_SRC  := $(wildcard controller/web/*.html controller/web/*.js controller/web/*.css controller/web/*.svg)
LIB_OBJ  += $(BUILD)/obj/gen/web_assets.o
LIB      := $(BUILD)/libstreamfleet.a

BINS     := $(BUILD)/bin/streamfleet-controller $(BUILD)/bin/streamfleet-agent $(BUILD)/bin/streamfleet
UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
TOOL_SRC := $(wildcard tests/tools/*.c)
TOOL_BIN := $(TOOL_SRC:tests/tools/%.c=$(BUILD)/tools/%)

.DEFAULT_GOAL := all
.PHONY: bench-replication all deps test test-unit test-integration demo bench asan clean soak
all: $(BINS) $(UNIT_BIN) $(TOOL_BIN)

Q ?= @
$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC  $<"
	$(Q)$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/gen/web_assets.c: $(WEB_SRC) controller/web/embed.sh
	@mkdir -p $(dir $@)
	sh controller/web/embed.sh $(WEB_SRC) > $@.tmp && mv $@.tmp $@
$(BUILD)/obj/gen/web_assets.o: $(BUILD)/gen/web_assets.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(LIB): $(LIB_OBJ)
	@mkdir -p $(dir $@)
	$(Q)rm -f $@ && ar rcs $@ $^

$(BUILD)/bin/streamfleet-controller: $(BUILD)/obj/controller/main.o $(LIB)
	@mkdir -p $(dir $@)
	@echo "  LD  $@"
	$(Q)$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)
$(BUILD)/bin/streamfleet-agent: $(BUILD)/obj/node-agent/main.o $(LIB)
	@mkdir -p $(dir $@)
	@echo "  LD  $@"
	$(Q)$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)
$(BUILD)/bin/streamfleet: $(BUILD)/obj/controller/cli/main.o $(LIB)
	@mkdir -p $(dir $@)
	@echo "  LD  $@"
	$(Q)$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/%: $(BUILD)/obj/tests/unit/%.o $(LIB)
	@mkdir -p $(dir $@)
	@echo "  LD  $@"
	$(Q)$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS) -lcmocka
$(BUILD)/tools/%: $(BUILD)/obj/tests/tools/%.o $(LIB)
	@mkdir -p $(dir $@)
	@echo "  LD  $@"
	$(Q)$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS) -lsqlite3

# The same code under AddressSanitizer and UndefinedBehaviorSanitizer
asan:
	$(MAKE) BUILD=build-asan CFLAGS="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined" all

deps:
	@bash deploy/install-deps.sh

test: deps
	$(MAKE) all
	$(MAKE) asan
	@bash tests/run.sh

test-unit: all asan
	@bash tests/run.sh unit

test-integration: all
	@bash tests/run.sh integration

demo: deps
	$(MAKE) all
	@bash deploy/demo.sh

# make bench-replication: 5 controllers gossiping, replication figures (PARTITION_S=600 for
# the design's 10-minute partition)
bench-replication: deps
	$(MAKE) all
	@bash bench/replication.sh

bench: deps
	$(MAKE) all
	@bash bench/run.sh

clean:
	rm -rf build build-asan

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
