# httpmon build.  `make` builds everything into build/; `make V=1` shows commands.
# `make deps` installs the Debian packages the build and the tests need.

BUILD     ?= build
PREFIX    ?= /usr/local
DESTDIR   ?=
CLANG     ?= clang
CC        ?= gcc
BPFTOOL   ?= bpftool
ARCH      := $(shell uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/')
MULTIARCH := $(shell $(CC) -print-multiarch 2>/dev/null)
VERSION   := $(shell cat VERSION 2>/dev/null || echo 0.0.0)

ifeq ($(V),1)
Q =
msg =
else
Q = @
msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

BPF_CFLAGS := -g -O2 -target bpf -mcpu=v3 -D__TARGET_ARCH_$(ARCH) -Wall -Werror \
	-I kern -I /usr/include/$(MULTIARCH)
USER_CFLAGS := -g -O2 -Wall -Wextra -Werror -std=gnu11 -D_GNU_SOURCE \
	-I kern -I pin -I user/lib -I $(BUILD) -DHM_VERSION='"$(VERSION)"' \
	-DHM_OBJ_DIR='"$(PREFIX)/lib/httpmon"' $(EXTRA_CFLAGS)
USER_LDLIBS := -lbpf -lelf -lz

TOOLS     := hm-load hm-stat hm-reset
# user/ is laid out by tool over a shared library: user/lib/ and pin/ (the
# map set) are linked into every tool, user/TOOL/*.c into that tool alone.
# Objects mirror the sources under $(BUILD)/obj/.
LIB_SRCS  := $(wildcard pin/*.c user/lib/*.c)
LIB_HDRS  := $(wildcard pin/*.h user/lib/*.h) kern/httpmon.h
tool_srcs  = $(wildcard user/$(1)/*.c)
objs       = $(patsubst %.c,$(2)/obj/%.o,$(1))
COMMON    := $(call objs,$(LIB_SRCS),$(BUILD))
KERN_HDRS := $(wildcard kern/*.h)

.DELETE_ON_ERROR:
.PHONY: all clean test deps install uninstall dist lab verifier-stats bench bench-testrun fuzz san \
	deb check-fresh

all: $(BUILD)/httpmon.o $(BUILD)/httpmon_sock.o $(addprefix $(BUILD)/,$(TOOLS)) $(BUILD)/test_parse $(BUILD)/hm_replay $(BUILD)/verifier_stats \
	$(BUILD)/test_hist $(BUILD)/drop.bpf.o

$(BUILD):
	$(Q)mkdir -p $@

$(BUILD)/httpmon.o: kern/httpmon.bpf.c $(KERN_HDRS) | $(BUILD)
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(BUILD)/httpmon.skel.h: $(BUILD)/httpmon.o
	$(call msg,GEN-SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name httpmon > $@

# The socket source: the same parse core on fentry/fexit programs (kern/hm_sock.h).
$(BUILD)/httpmon_sock.o: kern/httpmon_sock.bpf.c $(KERN_HDRS) | $(BUILD)
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(BUILD)/httpmon_sock.skel.h: $(BUILD)/httpmon_sock.o
	$(call msg,GEN-SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name httpmon_sock > $@

# Each object depends on the library's headers and its own folder's.
$(BUILD)/obj/%.o: %.c $(LIB_HDRS) $(BUILD)/httpmon.skel.h $(BUILD)/httpmon_sock.skel.h
	$(call msg,CC,$@)
	$(Q)mkdir -p $(dir $@)
	$(Q)$(CC) $(USER_CFLAGS) -I $(dir $<) -c $< -o $@
$(foreach t,$(TOOLS),$(eval $(call objs,$(call tool_srcs,$(t)),$(BUILD)): $(wildcard user/$(t)/*.h)))

# hm-load also attaches: tc filters over rtnetlink, XDP through libxdp.
$(BUILD)/hm-load: USER_LDLIBS += -lxdp

define tool_rule
$(1)/$(2): $(call objs,$(call tool_srcs,$(2)),$(1)) $(call objs,$(LIB_SRCS),$(1))
	$$(call msg,LINK,$$@)
	$$(Q)$$(CC) $$(USER_CFLAGS) $$(if $$(filter $$(SAN)/%,$$@),$$(SAN_FLAGS)) $$^ -o $$@ $$(USER_LDLIBS)
endef

$(BUILD)/test_hist: tests/unit/test_hist.c $(BUILD)/obj/user/lib/hm_hist.o \
		$(BUILD)/obj/user/hm-stat/histview.o
	$(call msg,CC,$@)
	$(Q)$(CC) $(USER_CFLAGS) -I user/hm-stat $^ -o $@

# The BPF unit tests: one file per feature over tests/unit/parse/harness.c;
# hm_replay (tests/tools/replay.c) feeds a recorded conversation through the same harness.
PARSE_SRCS := $(wildcard tests/unit/parse/*.c)
PARSE_DEPS := tests/unit/parse/harness.h tests/unit/pkt.h kern/httpmon.h $(COMMON) $(BUILD)/httpmon.o
$(BUILD)/test_parse: $(PARSE_SRCS) $(PARSE_DEPS)
	$(call msg,CC,$@)
	$(Q)$(CC) $(USER_CFLAGS) -I tests/unit -I tests/unit/parse $(PARSE_SRCS) $(COMMON) -o $@ \
		$(USER_LDLIBS)

$(BUILD)/hm_replay: tests/tools/replay.c tests/unit/parse/harness.c $(PARSE_DEPS)
	$(call msg,CC,$@)
	$(Q)$(CC) $(USER_CFLAGS) -I tests/unit -I tests/unit/parse tests/tools/replay.c \
		tests/unit/parse/harness.c $(COMMON) -o $@ $(USER_LDLIBS)

$(BUILD)/verifier_stats: tests/tools/verifier_stats.c | $(BUILD)
	$(call msg,CC,$@)
	$(Q)$(CC) $(USER_CFLAGS) $< -o $@ $(USER_LDLIBS)

# Test-only BPF programs: real packet loss for tests/e2e/test_loss.sh.
$(BUILD)/drop.bpf.o: tests/tools/drop.bpf.c | $(BUILD)
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@

# Instructions the verifier processed per program, against the budget the tests enforce.
VERIFIER_BUDGET ?= 400000
verifier-stats: $(BUILD)/httpmon.o $(BUILD)/verifier_stats
	$(Q)$(BUILD)/verifier_stats --budget $(VERIFIER_BUDGET) $(BUILD)/httpmon.o

# The datapath compiled as userspace C (tests/fuzz/bpf_shim.h) under libFuzzer,
# AddressSanitizer and UBSan.  `make fuzz FUZZ_SECONDS=N` fuzzes for N seconds.
FUZZ_SECONDS ?= 300
# Alignment is not checked: the datapath reads headers and words at any
# offset of map memory, which BPF allows.
FUZZ_CFLAGS := -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
	-fno-sanitize=alignment \
	-I kern -I tests/fuzz -I /usr/include/$(MULTIARCH)
$(BUILD)/fuzz_datapath: tests/fuzz/fuzz_datapath.c tests/fuzz/bpf_shim.c tests/fuzz/bpf_shim.h \
		tests/fuzz/fuzz_checks.h \
		$(KERN_HDRS) | $(BUILD)
	$(call msg,FUZZ-CC,$@)
	$(Q)$(CLANG) $(FUZZ_CFLAGS) tests/fuzz/fuzz_datapath.c tests/fuzz/bpf_shim.c -o $@

# The socket source's entry (kern/hm_sock.h) under the same shim.
$(BUILD)/fuzz_sock: tests/fuzz/fuzz_sock.c tests/fuzz/bpf_shim.c tests/fuzz/bpf_shim.h \
		tests/fuzz/fuzz_checks.h $(KERN_HDRS) | $(BUILD)
	$(call msg,FUZZ-CC,$@)
	$(Q)$(CLANG) $(FUZZ_CFLAGS) tests/fuzz/fuzz_sock.c tests/fuzz/bpf_shim.c -o $@

fuzz: $(BUILD)/fuzz_datapath $(BUILD)/fuzz_sock
	$(Q)mkdir -p $(BUILD)/fuzz-corpus
	$(Q)$(BUILD)/fuzz_datapath -max_total_time=$(FUZZ_SECONDS) -max_len=4096 \
		-artifact_prefix=$(BUILD)/ $(BUILD)/fuzz-corpus tests/fuzz/corpus
	$(Q)mkdir -p $(BUILD)/fuzz-corpus-sock
	$(Q)$(BUILD)/fuzz_sock -max_total_time=$(FUZZ_SECONDS) -max_len=4096 \
		-artifact_prefix=$(BUILD)/ $(BUILD)/fuzz-corpus-sock tests/fuzz/corpus-sock

# The user tools built once more with AddressSanitizer and UBSan, into
# $(BUILD)/san/; `make test` runs the tool and reader tests against them too
# (tests/unit/test_sanitizers.sh), so a memory error fails the suite.  The
# normal build is the one that reports warnings: -O1 with instrumentation
# adds false maybe-uninitialized ones, hence -w.
SAN       := $(BUILD)/san
SAN_FLAGS := -O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all -w
SAN_TOOLS := $(addprefix $(SAN)/,$(TOOLS))

$(SAN)/obj/%.o: %.c $(LIB_HDRS) $(BUILD)/httpmon.skel.h
	$(call msg,CC-SAN,$@)
	$(Q)mkdir -p $(dir $@)
	$(Q)$(CC) $(USER_CFLAGS) $(SAN_FLAGS) -I $(dir $<) -c $< -o $@
$(foreach t,$(TOOLS),$(eval $(call objs,$(call tool_srcs,$(t)),$(SAN)): $(wildcard user/$(t)/*.h)))

$(foreach t,$(TOOLS),$(eval $(call tool_rule,$(BUILD),$(t))))
$(foreach t,$(TOOLS),$(eval $(call tool_rule,$(SAN),$(t))))
$(SAN)/hm-load: USER_LDLIBS += -lxdp

san: $(SAN_TOOLS)

deps:
	$(Q)scripts/deps.sh

# test and lab first install what is missing, so they work on a fresh machine.
test:
	$(Q)scripts/deps.sh
	$(Q)$(MAKE) --no-print-directory all san
	$(Q)tests/run.sh

lab:
	$(Q)scripts/deps.sh
	$(Q)$(MAKE) --no-print-directory all
	$(Q)scripts/lab.sh

# The README's Quick start, verbatim, as root on a fresh debootstrap
# --variant=minbase root (scripts/fresh-root.sh; 10-20 minutes, needs the
# Debian mirror, so CI does not run it).  FRESH_FLAGS=--keep keeps the root.
check-fresh:
	$(Q)scripts/fresh-root.sh $(FRESH_FLAGS)

# Cost and accuracy at saturation next to no monitor and an empty program
# on the same hooks, after the test_run microbenchmark below
# (scripts/bench.sh, about 16 minutes; BENCH_FLAGS=--smoke for a 35-second
# run, BENCH_FLAGS=--no-testrun without the microbenchmark).  Needs nginx
# and wrk.
bench:
	$(Q)scripts/deps.sh
	$(Q)$(MAKE) --no-print-directory all
	$(Q)scripts/bench.sh $(BENCH_FLAGS)

# The test_run microbenchmark (scripts/bench/testrun.c): ns per run of
# httpmon, of the cost floor (scripts/bench/floor.bpf.c) and of an empty
# program on a request and a response frame, TESTRUN_RUNS exchanges each.
# scripts/bench.sh builds its own copies with these rules (BUILD=its temp dir).
TESTRUN_RUNS ?= 200000
TESTRUN   := $(BUILD)/testrun $(BUILD)/bench_floor.o $(BUILD)/bench_empty.o

$(BUILD)/bench_%.o: scripts/bench/%.bpf.c | $(BUILD)
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(BUILD)/testrun: scripts/bench/testrun.c | $(BUILD)
	$(call msg,CC,$@)
	$(Q)$(CC) $(USER_CFLAGS) $< -o $@ $(USER_LDLIBS)

bench-testrun: $(BUILD)/httpmon.o $(TESTRUN)
	$(Q)$(BUILD)/testrun --runs $(TESTRUN_RUNS) $(BUILD)/httpmon.o $(BUILD)/bench_floor.o \
		$(BUILD)/bench_empty.o

# Installation.  Every directory can be overridden; DESTDIR is prepended to
# all of them.  The README's "Install and operations" section lists the files
# (tests/packaging/test_install.sh checks the list).  The configuration file is
# installed only when absent, and uninstall removes it only when unchanged.
SBINDIR       ?= $(PREFIX)/sbin
OBJDIR        ?= $(PREFIX)/lib/httpmon
MANDIR        ?= $(PREFIX)/share/man
DOCDIR        ?= $(PREFIX)/share/doc/httpmon
COMPLETIONDIR ?= $(PREFIX)/share/bash-completion/completions
UNITDIR       ?= $(PREFIX)/lib/systemd/system
RULESDIR      ?= $(PREFIX)/share/httpmon
SYSCONFDIR    ?= /etc

MANPAGES   := $(TOOLS) httpmon-ctl
COMPLETED  := hm-stat hm-reset httpmon-ctl
CONFIG     := $(DESTDIR)$(SYSCONFDIR)/default/httpmon
# The man pages name the default paths; installed, they name the real ones.
SUBST = sed -e 's|/usr/local/lib/systemd/system|$(UNITDIR)|g' -e 's|/usr/local/|$(PREFIX)/|g' \
	-e 's|/etc/default/httpmon|$(SYSCONFDIR)/default/httpmon|g' \
	-e 's|@SBINDIR@|$(SBINDIR)|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' \
	-e 's|@VERSION@|$(VERSION)|g'

install: all
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(OBJDIR) $(DESTDIR)$(MANDIR)/man8 \
		$(DESTDIR)$(COMPLETIONDIR) $(DESTDIR)$(UNITDIR) $(DESTDIR)$(DOCDIR)/examples \
		$(DESTDIR)$(RULESDIR) $(dir $(CONFIG))
	install -m 0755 $(addprefix $(BUILD)/,$(TOOLS)) $(DESTDIR)$(SBINDIR)/
	$(call msg,GEN,$(BUILD)/httpmon-ctl)
	$(Q)$(SUBST) dist/httpmon-ctl.in >$(BUILD)/httpmon-ctl
	install -m 0755 $(BUILD)/httpmon-ctl $(DESTDIR)$(SBINDIR)/
	install -m 0644 $(BUILD)/httpmon.o $(DESTDIR)$(OBJDIR)/
	$(call msg,GEN,$(patsubst %,$(BUILD)/%.8,$(MANPAGES)))
	$(Q)for m in $(MANPAGES); do $(SUBST) man/$$m.8 >$(BUILD)/$$m.8 || exit 1; done
	install -m 0644 $(patsubst %,$(BUILD)/%.8,$(MANPAGES)) $(DESTDIR)$(MANDIR)/man8/
	install -m 0644 dist/httpmon.bash-completion $(DESTDIR)$(COMPLETIONDIR)/hm-load
	for c in $(COMPLETED); do ln -sf hm-load $(DESTDIR)$(COMPLETIONDIR)/$$c || exit 1; done
	$(call msg,GEN,$(BUILD)/httpmon.service $(BUILD)/httpmon-textfile.service)
	$(Q)$(SUBST) dist/httpmon.service.in >$(BUILD)/httpmon.service
	$(Q)$(SUBST) dist/httpmon-textfile.service.in >$(BUILD)/httpmon-textfile.service
	install -m 0644 $(BUILD)/httpmon.service $(BUILD)/httpmon-textfile.service \
		dist/httpmon-textfile.timer $(DESTDIR)$(UNITDIR)/
	$(call msg,GEN,$(BUILD)/httpmon.rules.yml)
	$(Q)$(SUBST) dist/httpmon.rules.yml >$(BUILD)/httpmon.rules.yml
	install -m 0644 $(BUILD)/httpmon.rules.yml $(DESTDIR)$(RULESDIR)/
	install -m 0644 dist/httpmon.cron dist/httpmon-daemonset.yaml $(DESTDIR)$(DOCDIR)/examples/
	@if [ -e $(CONFIG) ]; then \
		echo "keeping $(CONFIG)"; \
	else \
		echo "install -m 0644 dist/httpmon.default $(CONFIG)"; \
		install -m 0644 dist/httpmon.default $(CONFIG); \
	fi

uninstall:
	rm -f $(addprefix $(DESTDIR)$(SBINDIR)/,$(TOOLS) httpmon-ctl)
	rm -f $(DESTDIR)$(OBJDIR)/httpmon.o
	rm -f $(patsubst %,$(DESTDIR)$(MANDIR)/man8/%.8,$(MANPAGES))
	rm -f $(addprefix $(DESTDIR)$(COMPLETIONDIR)/,hm-load $(COMPLETED))
	rm -f $(addprefix $(DESTDIR)$(UNITDIR)/,httpmon.service httpmon-textfile.service \
		httpmon-textfile.timer)
	rm -f $(DESTDIR)$(RULESDIR)/httpmon.rules.yml
	rm -f $(addprefix $(DESTDIR)$(DOCDIR)/examples/,httpmon.cron httpmon-daemonset.yaml)
	@if cmp -s dist/httpmon.default $(CONFIG); then \
		echo "rm -f $(CONFIG)"; rm -f $(CONFIG); \
	elif [ -e $(CONFIG) ]; then \
		echo "keeping $(CONFIG): it was changed"; \
	fi
	@rmdir $(DESTDIR)$(OBJDIR) $(DESTDIR)$(RULESDIR) $(DESTDIR)$(DOCDIR)/examples \
		$(DESTDIR)$(DOCDIR) 2>/dev/null || true

# A source tarball of the committed tree (HEAD), never of the work tree.
dist: | $(BUILD)
	$(call msg,DIST,$(BUILD)/httpmon-$(VERSION).tar.gz)
	$(Q)git archive --format=tar.gz --prefix=httpmon-$(VERSION)/ \
		-o $(BUILD)/httpmon-$(VERSION).tar.gz HEAD
	$(Q)if [ -n "$$(git status --porcelain --untracked-files=no)" ]; then \
		echo "dist: uncommitted changes are not in the tarball (it holds HEAD)"; fi

# A Debian package, built the Debian way (debian/, dpkg-buildpackage and
# debhelper) from a copy of the source tree in $(BUILD)/deb, so that nothing
# is written next to the tree: $(BUILD)/httpmon_VERSION_ARCH.deb.  Needs the
# Build-Depends of debian/control (scripts/deps.sh installs them).  The copy
# builds with its own defaults: none of this make's variables (BUILD=...)
# reach it.
DEB_ARCH = $(shell dpkg --print-architecture)
DEB_SRC = $(BUILD)/deb/httpmon-$(VERSION)
BUILD_IN_TREE = $(patsubst $(CURDIR)/%,%,$(abspath $(BUILD)))
deb: | $(BUILD)
	@v=$$(dpkg-parsechangelog -S Version); [ "$$v" = "$(VERSION)" ] || \
		{ echo "deb: debian/changelog is at $$v, VERSION at $(VERSION): add a changelog entry"; exit 1; }
	$(call msg,DEB,$(BUILD)/httpmon_$(VERSION)_$(DEB_ARCH).deb)
	$(Q)rm -rf $(BUILD)/deb && mkdir -p $(DEB_SRC)
	$(Q)tar -c --exclude=./build --exclude=./$(BUILD_IN_TREE) --exclude=./.git . | tar -x -C $(DEB_SRC)
	$(Q)cd $(DEB_SRC) && env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u MAKEOVERRIDES -u BUILD \
		dpkg-buildpackage -b -us -uc -jauto >../build.log 2>&1 || \
		{ tail -40 ../build.log; echo "deb: dpkg-buildpackage failed; see $(BUILD)/deb/build.log"; exit 1; }
	$(Q)cp $(BUILD)/deb/httpmon_$(VERSION)_$(DEB_ARCH).deb $(BUILD)/

clean:
	rm -rf $(BUILD)
