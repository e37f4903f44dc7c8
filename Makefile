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

BPF_CFLAGS := -g -O2 -target bpf -D__TARGET_ARCH_$(ARCH) -Wall -Werror \
	-I kern -I /usr/include/$(MULTIARCH)
USER_CFLAGS := -g -O2 -Wall -Wextra -Werror -std=gnu11 -D_GNU_SOURCE \
	-I kern -I pin -I user -I $(BUILD) -DHM_VERSION='"$(VERSION)"' \
	-DHM_OBJ_DIR='"$(PREFIX)/lib/httpmon"' $(EXTRA_CFLAGS)
USER_LDLIBS := -lbpf -lelf -lz

TOOLS     := hm-load hm-stat hm-reset
COMMON    := $(BUILD)/hm_pin.o $(BUILD)/hm_common.o
KERN_HDRS := $(wildcard kern/*.h)

.DELETE_ON_ERROR:
.PHONY: all clean test deps install uninstall lab verifier-stats

all: $(BUILD)/httpmon.o $(addprefix $(BUILD)/,$(TOOLS)) $(BUILD)/test_parse

$(BUILD):
	$(Q)mkdir -p $@

$(BUILD)/httpmon.o: kern/httpmon.bpf.c $(KERN_HDRS) | $(BUILD)
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(BUILD)/httpmon.skel.h: $(BUILD)/httpmon.o
	$(call msg,GEN-SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name httpmon > $@

$(BUILD)/%.o: pin/%.c pin/hm_pin.h kern/httpmon.h | $(BUILD)
	$(call msg,CC,$@)
	$(Q)$(CC) $(USER_CFLAGS) -c $< -o $@

$(BUILD)/hm_load.o: $(BUILD)/httpmon.skel.h

$(BUILD)/%.o: user/%.c $(wildcard user/*.h) pin/hm_pin.h kern/httpmon.h | $(BUILD)
	$(call msg,CC,$@)
	$(Q)$(CC) $(USER_CFLAGS) -c $< -o $@

$(BUILD)/hm-%: $(BUILD)/hm_%.o $(COMMON)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(USER_CFLAGS) $^ -o $@ $(USER_LDLIBS)

$(BUILD)/test_parse: tests/unit/test_parse.c tests/unit/pkt.h kern/httpmon.h $(COMMON) $(BUILD)/httpmon.o
	$(call msg,CC,$@)
	$(Q)$(CC) $(USER_CFLAGS) tests/unit/test_parse.c $(COMMON) -o $@ $(USER_LDLIBS)

deps:
	$(Q)scripts/deps.sh

# test and lab first install what is missing, so they work on a fresh machine.
test:
	$(Q)scripts/deps.sh
	$(Q)$(MAKE) --no-print-directory all
	$(Q)tests/run.sh

lab:
	$(Q)scripts/deps.sh
	$(Q)$(MAKE) --no-print-directory all
	$(Q)scripts/lab.sh

install: all
	install -d $(DESTDIR)$(PREFIX)/sbin $(DESTDIR)$(PREFIX)/lib/httpmon
	install -m 0755 $(addprefix $(BUILD)/,$(TOOLS)) $(DESTDIR)$(PREFIX)/sbin/
	install -m 0644 $(BUILD)/httpmon.o $(DESTDIR)$(PREFIX)/lib/httpmon/

uninstall:
	rm -f $(addprefix $(DESTDIR)$(PREFIX)/sbin/,$(TOOLS))
	rm -f $(DESTDIR)$(PREFIX)/lib/httpmon/httpmon.o
	-rmdir $(DESTDIR)$(PREFIX)/lib/httpmon

clean:
	rm -rf $(BUILD)
