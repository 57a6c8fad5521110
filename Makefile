# The one entry point. `make run` and `make test` do everything on a fresh Debian 12 machine.
#
#   make setup      install packages and tools (idempotent)
#   make kernel     the patched kernel (DEBUG=1: KASAN, lockdep, Rust assertions)
#   make module     vz.ko against that kernel
#   make tools      the userland workspace (release build)
#   make templates  the OS templates for vzctl create (busybox, Debian 12) and their guest disk
#   make image      the guest initramfs: busybox, module, tools, templates, test cases
#   make test       unit tests, then the in-VM suite
#   make vm SCRIPT=path   run a script as root in a fresh guest; exits with its status
#                   GUESTS=2: two guests linked by a network, vza and vzb; the script runs on
#                   vza, where `ssh vzb` and `rsync ... vzb:` reach the other as root
#   make run        boot to a root shell (a short demo when stdin is not a terminal)
#   make bench      hook and beancounter overhead: the same loops with the module loaded and
#                   not, on the host and in a VE, as ratios; checkpoint/restore against
#                   stop/start; a migration's frozen time, stop-copy against live moves;
#                   vzctl's lifecycle commands against raw namespace work
#   make bench-density  1000 idle busybox VEs at once, 50 Debian VEs serving: per-VE memory,
#                   command times flat in N
#   make soak       ten minutes of concurrent beancounter churn in a VE: no counter may drift
#   make check      rustfmt, clippy (userland and module) and unit tests
#   make clean-cache  empty the machine-wide cache of built kernels and templates
#
# make test and make vm-test take SHARDS=N (guests that run at once, each a share of the
# cases), ROUNDS=N (the whole suite N times, in fresh guests), ONLY=REGEX (cases whose
# file:name matches; with DEBUG=1 the kernel-facing files by default, see below) and PAIR=0|1
# (the two-guest cases, tests/cases-pair, on a vza/vzb pair after each round's guests).

SHELL := /bin/bash
.DEFAULT_GOAL := help
DEBUG ?= 0

BUILD := build
ifeq ($(DEBUG),1)
  VARIANT := -debug
  KMAKE_FLAGS := RUSTC=/usr/bin/rustc LLVM=1
else
  VARIANT :=
  KMAKE_FLAGS := RUSTC=/usr/bin/rustc
endif
KDIR := $(BUILD)/linux$(VARIANT)
MODDIR := $(BUILD)/module$(VARIANT)
IMAGE := $(BUILD)/initramfs$(VARIANT).cpio.gz
DISK := $(BUILD)/vz.img
TEMPLATES := $(BUILD)/templates
TEMPLATES_DISK := $(BUILD)/templates.img
BINDIR := target/release
HARNESS := $(BINDIR)/vz-harness
HARNESS_ARGS := --kernel $(KDIR)/arch/x86/boot/bzImage --initrd $(IMAGE) --templates-disk $(TEMPLATES_DISK) \
	--log-dir $(BUILD)/logs$(VARIANT)
RELEASE := $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n1)
TIMED := scripts/timed.sh
VZ_CACHE ?= /var/cache/vz-build
export VZ_CACHE
# Two guests at once took the normal kernel's suite from 335 s to 273 s. The debug kernel's
# guest alone already keeps both cores busy (KASAN, lockdep): two of them took as long as
# one, and the Debian scenario's create then took 271 s, near the case's time limit.
ifeq ($(DEBUG),1)
  SHARDS ?= 1
else
  SHARDS ?= 2
endif
# The debug kernel is there to catch kernel faults (KASAN, lockdep, kmemleak) in the patches
# and the module, at about 13 s a case. It runs the files that drive the kernel side: the
# module, VE core, devices, netdev, fuzz, vzpid, beancounters, the VE lifecycle, user
# namespaces, the VE's uptime and CPUs, its own /proc, checkpoint/restore (CRIU drives the
# module's attach and import, its hooks and the VE's objects hard) and the isolation attacks;
# vzlist's output formats and the Debian template's
# scenario (userland flows over the same kernel paths, several minutes under KASAN) run on the
# normal kernel only, which keeps a cold CI under an hour. ONLY=. runs everything.
ifeq ($(DEBUG),1)
  ONLY ?= /(10|20|30|40|50|60|70|80|82|83|87|88|95)-
endif
ROUNDS ?= 1
# The two-guest cases (VE migration between two hosts) boot a pair after each round's guests.
# The debug kernel's suite does not run them, to keep CI under an hour.
ifeq ($(DEBUG),1)
  PAIR ?= 0
else
  PAIR ?= 1
endif
SUITE_ARGS := --shards $(SHARDS) --rounds $(ROUNDS) $(if $(ONLY),--only '$(ONLY)') \
	$(if $(filter 1,$(PAIR)),--pair)
# make vm's guests: 2 boots a linked pair, vza (runs the script) and vzb.
GUESTS ?= 1

.PHONY: help setup kernel stage-module module tools templates image disk test unit vm-test vm run bench bench-density soak check clean clean-cache

help:
	@sed -n 's/^#   //p' Makefile

setup:
	@scripts/setup.sh

kernel: setup
	@scripts/build-kernel.sh $(KDIR) $(DEBUG)

# Kbuild builds external modules in their source directory, so each variant gets a copy.
# The module reports the workspace release, passed in the environment (env! in control.rs).
# $(call kbuild_module,DIR): Kbuild on the module copy in DIR.
kbuild_module = VZ_RELEASE=$(RELEASE) $(MAKE) -s -C $(KDIR) M=$(abspath $(1)) $(KMAKE_FLAGS)

# Kbuild does not see the release in the environment: a new one rebuilds control.rs.
stage-module:
	@mkdir -p $(MODDIR)/abi/src
	@cp -p kernel-module/Kbuild kernel-module/*.rs $(MODDIR)/
	@cp -p kernel-module/abi/src/abi.rs $(MODDIR)/abi/src/
	@if [ "$$(cat $(MODDIR)/.release 2>/dev/null)" != "$(RELEASE)" ]; then \
	  echo "$(RELEASE)" > $(MODDIR)/.release && touch $(MODDIR)/control.rs; fi

module: kernel stage-module
	@$(call kbuild_module,$(MODDIR)) modules
	@echo "module: $(MODDIR)/vz.ko"

tools:
	@cargo build --release --workspace --quiet

# The scripts rebuild only when their inputs changed (hash stamps, as for the kernel). The
# templates reach the guest on a read-only ext4 disk (the Debian one is too big for the
# initramfs), remade when a template is newer than it: the templates' size plus a quarter.
templates:
	@scripts/build-template-busybox.sh $(TEMPLATES)
	@scripts/build-template-debian.sh $(TEMPLATES)
	@if [ ! -f $(TEMPLATES_DISK) ] || [ -n "$$(find $(TEMPLATES) -name '*.tar.*' -newer $(TEMPLATES_DISK))" ]; then \
	  kb=$$(( $$(du -sk $(TEMPLATES) | cut -f1) * 5 / 4 + 1024 )) && \
	  rm -f $(TEMPLATES_DISK).$$$$ && truncate -s $${kb}K $(TEMPLATES_DISK).$$$$ && \
	  mkfs.ext4 -q -F -L vz-templates -m 0 -O ^has_journal -d $(TEMPLATES) $(TEMPLATES_DISK).$$$$ && \
	  mv $(TEMPLATES_DISK).$$$$ $(TEMPLATES_DISK) && \
	  echo "templates: $(TEMPLATES_DISK) ($$kb kB)"; \
	fi

image: module tools templates
	@tests/image/build-initramfs.sh $(IMAGE) $(KDIR) $(MODDIR)/vz.ko $(BINDIR) $(TEMPLATES)

# The quota and project features let the guest mount /vz with prjquota (per-VE disk quotas);
# a disk made without them gets them added in place by tune2fs, keeping its data.
disk:
	@if [ ! -f $(DISK) ]; then \
	  truncate -s 4G $(DISK) && \
	  mkfs.ext4 -q -F -L vz -E root_owner=0:0 -O quota,project $(DISK) && \
	  echo "disk: created $(DISK)"; \
	elif ! dumpe2fs -h $(DISK) 2>/dev/null | grep -q '^Filesystem features:.* project'; then \
	  tune2fs -O quota,project $(DISK) >/dev/null && echo "disk: added quota and project features to $(DISK)"; \
	fi

unit:
	@cargo test --quiet
	@tests/host/cache.sh

vm-test: image
	@$(HARNESS) $(HARNESS_ARGS) test $(SUITE_ARGS)

# Each stage is timed (scripts/timed.sh; .ci/run tabulates them), named after the kernel so
# that both kernels' stages show in .ci/run's table. The suite runs the harness directly
# (the image is built by then): a failure ends with its summary, not with a make[1] error.
test:
	@$(TIMED) setup$(VARIANT) $(MAKE) --no-print-directory setup
	@$(TIMED) unit-tests$(VARIANT) $(MAKE) --no-print-directory unit
	@$(TIMED) kernel$(VARIANT) $(MAKE) --no-print-directory kernel
	@$(TIMED) module$(VARIANT) $(MAKE) --no-print-directory module
	@$(TIMED) tools-and-image$(VARIANT) $(MAKE) --no-print-directory image
	@$(TIMED) vm-suite$(VARIANT) $(HARNESS) $(HARNESS_ARGS) test $(SUITE_ARGS)

vm: image
	@test -n "$(SCRIPT)" || { echo "usage: make vm SCRIPT=path/to/script.sh" >&2; exit 2; }
	@$(HARNESS) $(HARNESS_ARGS) vm --guests $(GUESTS) --script $(SCRIPT)

# The hooks' loops and the lifecycle commands run with --icount (instructions, not the host's
# load or QEMU's code translation, set the pace); the checkpoint timings include disk writes,
# which --icount would not pace like a real guest.
bench: image
	@$(HARNESS) $(HARNESS_ARGS) vm --icount --script tests/bench/hooks.sh
	@$(HARNESS) $(HARNESS_ARGS) vm --script tests/bench/checkpoint.sh
	@$(HARNESS) $(HARNESS_ARGS) vm --guests 2 --script tests/bench/migrate.sh
	@$(HARNESS) $(HARNESS_ARGS) vm --icount --script tests/bench/lifecycle.sh

# 1000 idle busybox VEs at once, then 50 Debian VEs serving: about an hour, so not part of make
# bench. The guest clock counts instructions, as for the lifecycle figures; the /vz disk is
# large enough for the Debian VEs' files (and sparse).
bench-density: image
	@$(HARNESS) $(HARNESS_ARGS) vm --icount --scratch-gib 24 --timeout 10800 --script tests/bench/density.sh

soak: image
	@$(HARNESS) $(HARNESS_ARGS) vm --script tests/soak/churn.sh

run: image disk
	@$(HARNESS) $(HARNESS_ARGS) run --disk $(DISK)

# The module is checked with the kernel's own Rust tools (1.85, from /usr/bin: rustup's shadow
# them on PATH): rustfmt follows vz.rs's `mod` lines. Clippy builds a fresh copy of the module
# of its own, so it always runs and its objects never stand in for the module's.
CLIPPY_MODDIR := $(BUILD)/module-clippy$(VARIANT)
check: kernel
	cargo fmt --all --check
	/usr/bin/rustfmt --config-path $(KDIR)/.rustfmt.toml --check kernel-module/vz.rs
	cargo clippy --workspace --all-targets --quiet -- -D warnings
	@rm -rf $(CLIPPY_MODDIR)
	@$(MAKE) --no-print-directory stage-module MODDIR=$(CLIPPY_MODDIR)
	$(call kbuild_module,$(CLIPPY_MODDIR)) CLIPPY=1 CLIPPY_DRIVER=/usr/bin/clippy-driver \
		KRUSTFLAGS=-Dwarnings modules
	cargo test --quiet

clean:
	rm -rf $(BUILD)/module* $(BUILD)/initramfs* $(BUILD)/logs* $(BUILD)/templates $(TEMPLATES_DISK) target

# Under each kind's lock, so no build is writing an entry while it goes.
clean-cache:
	@scripts/clean-cache.sh
