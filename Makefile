# yubin: one GNU Makefile. Each folder describes its programs in FOLDER/*.mk (module.mk, or one per owner):
#   PROGRAMS += smtpd
#   smtpd_SRCS := smtpd/smtpd.c smtpd/smtp_parse.c
#   smtpd_LIBS := -lcdb
#   SCRIPTS += service/yubin-setup          (installed to bin/ without .sh)
#   UNIT_test_smtp_parse_SRCS := smtpd/smtp_parse.c   (extra sources for tests/unit/test_smtp_parse.c)
#   FUZZ_fuzz_smtp_parse_SRCS := smtpd/smtp_parse.c   (extra sources for tests/fuzz/fuzz_smtp_parse.c)
# Every object is written to a temporary name and renamed, so two builds at once never
# leave a half-written file.

CC      ?= cc
CFLAGS  ?= -O2 -g
LDFLAGS ?=
PREFIX  ?= /usr/local
BUILD   ?= build
BIN     ?= bin
# the mail root: YUBIN_ROOT, else ./run; for make maps the root yubin-setup last recorded in
# $(BIN)/.yubin-root comes before ./run (MAPS_ROOT below)
YUBIN_ROOT_GIVEN := $(YUBIN_ROOT)
YUBIN_ROOT ?= $(CURDIR)/run
export YUBIN_ROOT

WARN    := -std=c99 -Wall -Wextra -Werror -Wshadow -Wpointer-arith -Wstrict-prototypes \
           -Wmissing-prototypes -Wvla
CPPFLAGS_ALL := -D_GNU_SOURCE -I. -Ilib $(CPPFLAGS)
ALLCFLAGS = $(WARN) $(CFLAGS) $(CPPFLAGS_ALL)

PROGRAMS :=
STATIC_PROGRAMS :=
SCRIPTS  :=
include $(sort $(wildcard */*.mk))

# The programs started per connection or per message (STATIC_PROGRAMS in the *.mk files) are
# linked statically against musl when musl-gcc is installed (tests/deps.sh installs it):
# glibc's start-up (cpuid probing of the CPU's caches, dynamic linking) costs about 1.1 ms of
# CPU per exec on a virtual machine, musl's about 0.1 ms (docs/internals.md "Start-up cost").
# `make MUSL=` builds them with CC like the rest. Their objects live in $(BUILD)/musl/; the
# Debian static archives they use (libcdb.a, libbearssl.a) are glibc builds, whose few glibc-only
# symbols lib/compat/glibc_abi.c supplies; cdb.h and bearssl*.h are copied next to the objects,
# so musl-gcc never sees the rest of /usr/include.
MUSL    ?= $(shell command -v musl-gcc 2>/dev/null)
MBUILD  := $(BUILD)/musl
SYSINC  ?= /usr/include
MLIBA   := $(MBUILD)/lib/libyubin.a
MCOMPAT := $(MBUILD)/lib/compat/glibc_abi.o
MUSL_PROGRAMS := $(if $(MUSL),$(filter $(STATIC_PROGRAMS),$(PROGRAMS)))
# -lNAME -> the full path of libNAME.a (musl-gcc searches only musl's own library folder)
static_libs = $(foreach l,$(1),$(if $(filter -l%,$(l)),$(shell $(CC) -print-file-name=lib$(l:-l%=%).a),$(l)))

LIB_SRCS := $(sort $(wildcard lib/*.c))
LIB_OBJS := $(LIB_SRCS:%.c=$(BUILD)/%.o)
LIBA     := $(BUILD)/lib/libyubin.a

UNIT_SRCS  := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BINS  := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)
FUZZ_SRCS  := $(sort $(wildcard tests/fuzz/fuzz_*.c))

.PHONY: all deps run fleet-demo test check fuzz bench setup install clean unit maps
all: $(PROGRAMS:%=$(BIN)/%)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALLCFLAGS) -MMD -MP -MT $@ -MF $@.d.$$$$ -c $< -o $@.$$$$ && mv -f $@.d.$$$$ $@.d && mv -f $@.$$$$ $@

$(LIBA): $(LIB_OBJS)
	@mkdir -p $(dir $@)
	rm -f $@.$$$$ && ar rcs $@.$$$$ $^ && mv -f $@.$$$$ $@

define PROG_template
$(BIN)/$(1): $$($(1)_SRCS:%.c=$(BUILD)/%.o) $(LIBA)
	@mkdir -p $(BIN)
	$$(CC) $$(CFLAGS) $$(LDFLAGS) -o $$@.$$$$$$$$ $$($(1)_SRCS:%.c=$(BUILD)/%.o) $(LIBA) $$($(1)_LIBS) && mv -f $$@.$$$$$$$$ $$@
endef
$(foreach p,$(filter-out $(MUSL_PROGRAMS),$(PROGRAMS)),$(eval $(call PROG_template,$(p))))

$(MBUILD)/include/.stamp:
	@mkdir -p $(dir $@)
	cp -R $(SYSINC)/cdb.h $(wildcard $(SYSINC)/bearssl*) $(dir $@) && touch $@

$(MBUILD)/%.o: %.c | $(MBUILD)/include/.stamp
	@mkdir -p $(dir $@)
	$(MUSL) $(ALLCFLAGS) -I$(MBUILD)/include -MMD -MP -MT $@ -MF $@.d.$$$$ -c $< -o $@.$$$$ && mv -f $@.d.$$$$ $@.d && mv -f $@.$$$$ $@

$(MLIBA): $(LIB_SRCS:%.c=$(MBUILD)/%.o)
	@mkdir -p $(dir $@)
	rm -f $@.$$$$ && ar rcs $@.$$$$ $^ && mv -f $@.$$$$ $@

define MPROG_template
$(BIN)/$(1): $$($(1)_SRCS:%.c=$(MBUILD)/%.o) $(MLIBA) $(MCOMPAT)
	@mkdir -p $(BIN)
	$$(MUSL) -static $$(CFLAGS) $$(LDFLAGS) -o $$@.$$$$$$$$ $$($(1)_SRCS:%.c=$(MBUILD)/%.o) $(MLIBA) $$(call static_libs,$$($(1)_LIBS)) $(MCOMPAT) && mv -f $$@.$$$$$$$$ $$@
endef
$(foreach p,$(MUSL_PROGRAMS),$(eval $(call MPROG_template,$(p))))

define SCRIPT_template
$(BIN)/$(notdir $(1)): $(1).sh
	@mkdir -p $(BIN)
	cp $$< $$@.$$$$$$$$ && chmod 755 $$@.$$$$$$$$ && mv -f $$@.$$$$$$$$ $$@
endef
$(foreach s,$(SCRIPTS),$(eval $(call SCRIPT_template,$(s))))
# SCRIPTS are named by folder/name; bin/ holds only the name
all: $(foreach s,$(SCRIPTS),$(BIN)/$(notdir $(s)))

define UNIT_template
$(BUILD)/tests/$(1): $(BUILD)/tests/unit/$(1).o $$(UNIT_$(1)_SRCS:%.c=$(BUILD)/%.o) $(LIBA)
	@mkdir -p $$(dir $$@)
	$$(CC) $$(CFLAGS) $$(LDFLAGS) -o $$@.$$$$$$$$ $$^ $$(UNIT_$(1)_LIBS) -lcdb -lcrypt && mv -f $$@.$$$$$$$$ $$@
endef
$(foreach t,$(UNIT_SRCS:tests/unit/%.c=%),$(eval $(call UNIT_template,$(t))))

unit: $(UNIT_BINS)

deps:
	@sh tests/deps.sh

# make run: install what is missing, build, set up a mail root with a demo domain, start s6.
# (run, test and bench build in a sub-make: it looks for musl-gcc again after deps installed it)
# yubin-start --check refuses, before yubin-setup touches the root, when its tree is still up.
run: deps
	$(MAKE) all
	$(BIN)/yubin-start --check $(YUBIN_ROOT)
	$(BIN)/yubin-setup --demo --bin $(CURDIR)/$(BIN) $(YUBIN_ROOT)
	exec $(BIN)/yubin-start $(YUBIN_ROOT)

# make fleet-demo: 3 etcd members and 3 fleet nodes on 127.0.0.1 under s6, a demo domain
# homed on each; Ctrl-C stops all of it (fleet/fleet-demo.sh, docs/fleet.md)
FLEET_DEMO_DIR ?= $(CURDIR)/fleet-demo-run
fleet-demo: deps
	$(MAKE) all
	exec $(BIN)/fleet-demo $(FLEET_DEMO_DIR) $(CURDIR)/$(BIN) $(CURDIR)

setup: all
	$(BIN)/yubin-setup --bin $(CURDIR)/$(BIN) $(YUBIN_ROOT)

# make maps: make -C ROOT/etc on YUBIN_ROOT, else on the root `YUBIN_ROOT=DIR make run` (or
# make setup) set up from this $(BIN) and recorded in $(BIN)/.yubin-root, where mailacct, mkmaps
# and mailq find it too (lib/cfg cfg_root_find: an absolute path to a folder), else on ./run
RECORDED_ROOT = $(shell r=$$(head -n 1 $(BIN)/.yubin-root 2>/dev/null); \
                  case "$$r" in (/*) [ -d "$$r" ] && printf '%s' "$$r" ;; esac)
MAPS_ROOT = $(or $(YUBIN_ROOT_GIVEN),$(RECORDED_ROOT),$(CURDIR)/run)
maps:
	YUBIN_ROOT=$(MAPS_ROOT) $(MAKE) -C $(MAPS_ROOT)/etc

# make test runs TEST_JOBS test modules at a time (tests/run); make check one, in name order
TEST_JOBS ?= 2
test: deps
	$(MAKE) all unit fuzz-build
	@YUBIN_BIN=$(CURDIR)/$(BIN) BUILD=$(BUILD) YUBIN_TEST_JOBS=$(TEST_JOBS) python3 tests/run $(TESTS)

check: deps
	$(MAKE) BUILD=build-san BIN=build-san/bin MUSL= \
	    CFLAGS="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined" \
	    LDFLAGS="-fsanitize=address,undefined" all unit
	@YUBIN_BIN=$(CURDIR)/build-san/bin BUILD=build-san YUBIN_SANITIZED=1 YUBIN_TEST_JOBS=1 \
	    ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
	    python3 tests/run $(TESTS)

# libFuzzer targets: tests/fuzz/fuzz_NAME.c + FUZZ_fuzz_NAME_SRCS + lib/, built with clang.
# Each source is compiled once into build-fuzz/obj/ (instrumented, without libFuzzer's main)
# and the targets share the objects: compiling lib/ again for each of them took 200 s.
FUZZ_SECONDS ?= 60
FUZZ_CC ?= clang
FUZZ_BINS := $(FUZZ_SRCS:tests/fuzz/%.c=build-fuzz/%)
FUZZ_SAN := -fsanitize=address,undefined
FUZZ_ALL_SRCS := $(sort $(FUZZ_SRCS) $(LIB_SRCS) $(foreach f,$(FUZZ_SRCS:tests/fuzz/%.c=%),$(FUZZ_$(f)_SRCS)))
build-fuzz/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) -g -O1 -fsanitize=fuzzer-no-link $(FUZZ_SAN) -D_GNU_SOURCE -I. -Ilib -MMD -MP -MT $@ -MF $@.d.$$$$ -c $< -o $@.$$$$ && mv -f $@.d.$$$$ $@.d && mv -f $@.$$$$ $@
define FUZZ_template
build-fuzz/$(1): $$(patsubst %.c,build-fuzz/obj/%.o,tests/fuzz/$(1).c $$(FUZZ_$(1)_SRCS) $(LIB_SRCS))
	@mkdir -p build-fuzz
	$(FUZZ_CC) -g -fsanitize=fuzzer $(FUZZ_SAN) -o $$@.$$$$$$$$ $$^ -lcdb -lcrypt -lbearssl $$(FUZZ_$(1)_LIBS) && mv -f $$@.$$$$$$$$ $$@
endef
$(foreach f,$(FUZZ_SRCS:tests/fuzz/%.c=%),$(eval $(call FUZZ_template,$(f))))
-include $(FUZZ_ALL_SRCS:%.c=build-fuzz/obj/%.o.d)
.PHONY: fuzz-build
fuzz-build: $(FUZZ_BINS)

fuzz: deps fuzz-build
	@sh tests/fuzz/run.sh $(FUZZ_SECONDS)

bench: deps
	$(MAKE) all
	@sh bench/run.sh

# install: programs into PREFIX/bin; service templates, default maps and settings into
# PREFIX/share/yubin, where PREFIX/bin/yubin-setup finds them.
install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/yubin/cdb
	install -m 755 $(PROGRAMS:%=$(BIN)/%) $(foreach s,$(SCRIPTS),$(BIN)/$(notdir $(s))) $(DESTDIR)$(PREFIX)/bin/
	rm -rf $(DESTDIR)$(PREFIX)/share/yubin/service $(DESTDIR)$(PREFIX)/share/yubin/fleet $(DESTDIR)$(PREFIX)/share/yubin/cdb/etc.defaults
	cp -R service fleet $(DESTDIR)$(PREFIX)/share/yubin/
	if [ -d cdb/etc.defaults ]; then cp -R cdb/etc.defaults $(DESTDIR)$(PREFIX)/share/yubin/cdb/; fi
	cat /dev/null $(wildcard */defaults.env) > $(DESTDIR)$(PREFIX)/share/yubin/defaults.env

clean:
	rm -rf build build-san build-fuzz bin

-include $(LIB_OBJS:%=%.d) $(foreach p,$(PROGRAMS),$($(p)_SRCS:%.c=$(BUILD)/%.o.d)) $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/unit/%.o.d)
-include $(LIB_SRCS:%.c=$(MBUILD)/%.o.d) $(MCOMPAT).d $(foreach p,$(MUSL_PROGRAMS),$($(p)_SRCS:%.c=$(MBUILD)/%.o.d))
