# streamfleet — top-level build.
#   make            build the three binaries into build/bin
#   make test       install missing packages, build (plain and ASan/UBSan), run every test
#   make demo       install missing packages, build, run a local cluster (DEMO_SECONDS=N to stop)
#   make bench      ingest and query benchmarks (figures in docs/benchmarks.md)
#   make deps       install missing Debian packages (needs root)
#   make man        man pages and default config files into build/man, build/etc
#   make install    PREFIX=/usr/local DESTDIR= sysconfdir= (binaries, man pages,
#                   units, default configs, completion); make uninstall
#   make deb        a Debian package into build/deb/ (tools/mkdeb.sh)
#   make fuzz       libFuzzer targets (clang) for every decoder of untrusted input, each
#                   run FUZZ_SECONDS (60) over its corpus tests/fuzz/TARGET/ (docs/operations.md)

CC      ?= cc
BUILD   ?= build
CFLAGS  ?= -O2 -g
override CFLAGS += -std=gnu11 -Wall -Wextra -Werror -Wno-unused-parameter -Iinclude -D_GNU_SOURCE -pthread -MMD -MP $(CWARN_EXTRA)
LDLIBS  := -lsystemd -lczmq -lzmq -lmsgpackc -llmdb -lsodium -lcurl -ljansson -lmicrohttpd -lexpat -lpthread -lm

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
# docs/protocol.md's record field tables, from the field table (include/sf_fields.h)
docs-fields: $(LIB)
	bash tools/gen-fields.sh --update

.PHONY: fuzz fuzz-build docs-fields man install uninstall deb bench-replication bench-profile bench-history bench-readmodel bench-readmodel-callgrind all deps test test-unit test-integration demo bench asan clean soak
# Fault injection for tests, preloaded into the controller (tests/preload/)
PRELOAD_BIN := $(BUILD)/tools/sf_fail_sync.so
all: $(BINS) $(UNIT_BIN) $(TOOL_BIN) $(PRELOAD_BIN)

Q ?= @
$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC  $<"
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) -c $< -o $@

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
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)
$(BUILD)/bin/streamfleet-agent: $(BUILD)/obj/node-agent/main.o $(LIB)
	@mkdir -p $(dir $@)
	@echo "  LD  $@"
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)
$(BUILD)/bin/streamfleet: $(BUILD)/obj/controller/cli/main.o $(LIB)
	@mkdir -p $(dir $@)
	@echo "  LD  $@"
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/%: $(BUILD)/obj/tests/unit/%.o $(LIB)
	@mkdir -p $(dir $@)
	@echo "  LD  $@"
	$(Q)$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS) -lcmocka
$(BUILD)/tools/%.so: tests/preload/%.c
	@mkdir -p $(dir $@)
	@echo "  LD  $@"
	$(Q)$(CC) $(CFLAGS) -fPIC -shared -o $@ $< -ldl
$(BUILD)/tools/%: $(BUILD)/obj/tests/tools/%.o $(LIB)
	@mkdir -p $(dir $@)
	@echo "  LD  $@"
	$(Q)$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS) -lsqlite3

# Man pages and default config files, generated from the option tables and
# the CLI's help texts (tools/sf_gendoc.c, tools/gen-cli-man.sh)
VERSION := $(shell sed -n 's/^\#define SF_VERSION "\(.*\)"/\1/p' include/sf_version.h)
MAN_OUT := $(BUILD)/man/streamfleet.1 $(BUILD)/man/streamfleet-controller.8 \
           $(BUILD)/man/streamfleet-agent.8 $(BUILD)/man/streamfleet-controller.conf.5 \
           $(BUILD)/man/streamfleet-agent.conf.5 $(BUILD)/etc/controller.conf $(BUILD)/etc/agent.conf
$(BUILD)/gen/sf_gendoc: $(BUILD)/obj/tools/sf_gendoc.o $(LIB)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)
$(BUILD)/man/streamfleet.1: $(BUILD)/bin/streamfleet tools/gen-cli-man.sh
	@mkdir -p $(dir $@)
	bash tools/gen-cli-man.sh $< > $@.tmp && mv $@.tmp $@
$(BUILD)/man/streamfleet-%.8: $(BUILD)/gen/sf_gendoc
	@mkdir -p $(dir $@)
	$< man $* > $@.tmp && mv $@.tmp $@
$(BUILD)/man/streamfleet-%.conf.5: $(BUILD)/gen/sf_gendoc
	@mkdir -p $(dir $@)
	$< conf-man $* > $@.tmp && mv $@.tmp $@
$(BUILD)/etc/%.conf: $(BUILD)/gen/sf_gendoc
	@mkdir -p $(dir $@)
	$< conf $* > $@.tmp && mv $@.tmp $@
man: $(MAN_OUT)

# make install: PREFIX=/usr puts configs in /etc and units in /lib/systemd/system
PREFIX     ?= /usr/local
DESTDIR    ?=
bindir     ?= $(PREFIX)/bin
sbindir    ?= $(PREFIX)/sbin
datadir    ?= $(PREFIX)/share
mandir     ?= $(datadir)/man
docdir     ?= $(datadir)/doc/streamfleet
sysconfdir ?= $(if $(filter /usr,$(PREFIX)),/etc,$(PREFIX)/etc)
unitdir    ?= $(if $(filter /usr,$(PREFIX)),/lib/systemd/system,$(PREFIX)/lib/systemd/system)
bashcompdir ?= $(datadir)/bash-completion/completions
zshcompdir ?= $(datadir)/zsh/vendor-completions
INSTALL    ?= install
install: $(BINS) man
	$(INSTALL) -d $(DESTDIR)$(bindir) $(DESTDIR)$(sbindir) $(DESTDIR)$(mandir)/man1 \
	  $(DESTDIR)$(mandir)/man5 $(DESTDIR)$(mandir)/man8 $(DESTDIR)$(unitdir) \
	  $(DESTDIR)$(sysconfdir)/streamfleet $(DESTDIR)$(sysconfdir)/streamfleet/allowed \
	  $(DESTDIR)$(bashcompdir) $(DESTDIR)$(zshcompdir) $(DESTDIR)$(docdir)
	$(INSTALL) -m 0755 $(BUILD)/bin/streamfleet $(DESTDIR)$(bindir)/streamfleet
	$(INSTALL) -m 0755 $(BUILD)/bin/streamfleet-controller $(BUILD)/bin/streamfleet-agent $(DESTDIR)$(sbindir)/
	$(INSTALL) -m 0644 $(BUILD)/man/streamfleet.1 $(DESTDIR)$(mandir)/man1/
	$(INSTALL) -m 0644 $(BUILD)/man/streamfleet-controller.conf.5 $(BUILD)/man/streamfleet-agent.conf.5 $(DESTDIR)$(mandir)/man5/
	$(INSTALL) -m 0644 $(BUILD)/man/streamfleet-controller.8 $(BUILD)/man/streamfleet-agent.8 $(DESTDIR)$(mandir)/man8/
	for u in controller agent; do \
	  sed -e 's|@sbindir@|$(sbindir)|g' -e 's|@sysconfdir@|$(sysconfdir)|g' \
	    deploy/systemd/streamfleet-$$u.service.in > $(DESTDIR)$(unitdir)/streamfleet-$$u.service; \
	  chmod 0644 $(DESTDIR)$(unitdir)/streamfleet-$$u.service; \
	  if [ -e $(DESTDIR)$(sysconfdir)/streamfleet/$$u.conf ]; then \
	    echo "  kept $(DESTDIR)$(sysconfdir)/streamfleet/$$u.conf (the new defaults are in $(BUILD)/etc/$$u.conf)"; \
	  else $(INSTALL) -m 0644 $(BUILD)/etc/$$u.conf $(DESTDIR)$(sysconfdir)/streamfleet/$$u.conf; fi; \
	done
	$(INSTALL) -m 0644 deploy/completion/streamfleet.bash $(DESTDIR)$(bashcompdir)/streamfleet
	$(INSTALL) -m 0644 deploy/completion/_streamfleet $(DESTDIR)$(zshcompdir)/_streamfleet
	$(INSTALL) -m 0644 README.md docs/*.md $(DESTDIR)$(docdir)/
uninstall:
	rm -f $(DESTDIR)$(bindir)/streamfleet $(DESTDIR)$(sbindir)/streamfleet-controller \
	  $(DESTDIR)$(sbindir)/streamfleet-agent $(DESTDIR)$(mandir)/man1/streamfleet.1 \
	  $(DESTDIR)$(mandir)/man5/streamfleet-controller.conf.5 $(DESTDIR)$(mandir)/man5/streamfleet-agent.conf.5 \
	  $(DESTDIR)$(mandir)/man8/streamfleet-controller.8 $(DESTDIR)$(mandir)/man8/streamfleet-agent.8 \
	  $(DESTDIR)$(unitdir)/streamfleet-controller.service $(DESTDIR)$(unitdir)/streamfleet-agent.service \
	  $(DESTDIR)$(bashcompdir)/streamfleet $(DESTDIR)$(zshcompdir)/_streamfleet
	rm -rf $(DESTDIR)$(docdir)
	@echo "  left $(DESTDIR)$(sysconfdir)/streamfleet (your configuration and certificates)"

# make deb: a Debian package built from a hardened build of its own (build-deb/);
# + hands the jobserver to mkdeb.sh's make, so make -jN deb compiles N at a time
deb: deps
	+@bash tools/mkdeb.sh

# The same code under AddressSanitizer and UndefinedBehaviorSanitizer
asan:
	$(MAKE) BUILD=build-asan CFLAGS="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined" all

deps:
	@bash deploy/install-deps.sh

# The four builds use every core (CI calls plain `make test`, which would build serially);
# the package's build (build-deb/) is made here so that 70_package.sh only packs it.
# tests/run.sh then runs SF_TEST_JOBS (3) integration scripts at a time.
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
test: deps
	$(MAKE) -j$(JOBS) all
	$(MAKE) -j$(JOBS) asan
	$(MAKE) -j$(JOBS) fuzz-build
	$(MAKE) -j$(JOBS) deb
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

# The overload soak (issue 12): SOAK_MINUTES (30), SOAK_AGENTS (20), SOAK_STREAMS
# (10000); needs root for network namespaces. Not part of make test.
soak: deps
	$(MAKE) all
	@bash tests/soak/soak.sh

bench: deps
	$(MAKE) all
	@bash bench/run.sh

# make bench-profile: perf of the controller during ingest (bench/profile_ingest.sh;
# PROF_STREAMS, PROF_MODE=patch|put): CPU per committed update and the share of each stage
bench-profile: deps
	$(MAKE) all
	@bash bench/profile_ingest.sh

# make bench-readmodel: the read model alone in process (writer cost per update, every query
# at RM_PLACEMENTS, default 1,000,000 over 100 nodes); figures in docs/benchmarks.md
bench-readmodel: all
	$(BUILD)/tools/sf_bench_readmodel --placements $(or $(RM_PLACEMENTS),1000000) --nodes 100

# make bench-history: the placement history's pages at HISTORY_EVENTS (default 1,000,000
# events of 100,000 streams): a deep page, a stream's and a node's page, all keyset seeks
# (the one test of tests/unit/test_fleet.c, its figures printed); docs/benchmarks.md
bench-history: all
	SF_HISTORY_BENCH_EVENTS=$(or $(HISTORY_EVENTS),1000000) $(BUILD)/tests/test_fleet

# make bench-readmodel-callgrind: the writer's instructions per update under callgrind
# (bench/readmodel_callgrind.sh; RM_PLACEMENTS, RM_UPDATES): a figure a shared machine does not move
bench-readmodel-callgrind: all
	@bash bench/readmodel_callgrind.sh

# make bench-alerts: alert rules' cost to the writer (issue 17: 20 rules at ALERTS_PLACEMENTS,
# default 1,000,000, at ALERTS_RATE updates/s, default 10,000); figures in docs/benchmarks.md
bench-alerts: all
	$(BUILD)/tools/sf_bench_alerts --placements $(or $(ALERTS_PLACEMENTS),1000000) --nodes 100 \
	  --rate $(or $(ALERTS_RATE),10000) --seconds $(or $(ALERTS_SECONDS),60)

# Fuzzing (docs/operations.md "Fuzzing"): every decoder of untrusted input under
# libFuzzer, ASan and UBSan, built with Debian's clang into build-fuzz/. The library is
# compiled with coverage instrumentation (fuzzer-no-link); each tests/fuzz/TARGET.c links
# libFuzzer's main. `make fuzz` runs every target FUZZ_SECONDS over tests/fuzz/TARGET/ (the
# seeds; new inputs go to build-fuzz/corpus/TARGET, crashes to build-fuzz/crashes/TARGET);
# `make test` runs each for a few seconds as a regression check (tests/run.sh fuzz).
FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 60
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
FUZZ_SRC     := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BIN     := $(FUZZ_SRC:tests/fuzz/%.c=build-fuzz/fuzz/%)
fuzz-build:
	@command -v $(FUZZ_CC) >/dev/null 2>&1 || { echo "make fuzz: $(FUZZ_CC) is missing: run make deps (deploy/install-deps.sh installs clang)" >&2; exit 1; }
	$(MAKE) BUILD=build-fuzz CC=$(FUZZ_CC) CFLAGS="-O1 -g -fsanitize=fuzzer-no-link $(FUZZ_SAN)" CWARN_EXTRA=-Wno-missing-field-initializers fuzz-bins
fuzz-bins: $(FUZZ_BIN)
build-fuzz/fuzz/%: $(BUILD)/obj/tests/fuzz/%.o $(LIB)
	@mkdir -p $(dir $@)
	@echo "  LD  $@"
	$(Q)$(CC) $(CFLAGS) -fsanitize=fuzzer -o $@ $^ $(LDLIBS)
fuzz: fuzz-build
	@FUZZ_SECONDS=$(FUZZ_SECONDS) FUZZ_JOBS=$(or $(FUZZ_JOBS),1) bash tests/fuzz/run.sh

clean:
	rm -rf build build-asan build-fuzz

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
