# SPDX-License-Identifier: GPL-2.0
# rsio top-level Makefile.
#
#   make               build the kernel modules (Kbuild) against $(KDIR)
#   make KDIR=/path    ... against any Rust-enabled kernel >= 7.3 build tree
#   make userspace     build the user-space workspace (cargo)
#   make setup         install and build the platform (tools/setup.sh)
#   make demo          the README's main command: a 2-node cluster demo
#   make test          the README's test command: every test, with a summary
#   make faults        the fault tests on the debug kernel (KASAN, lockdep)
#   make soak          scenarios run over and over (tools/soak.sh; not in make test)
#   make rustfmt       format all Rust code: the kernel's with the kernel's own
#                      .rustfmt.toml (as its `make rustfmt`), user space with cargo fmt
#   make rustfmtcheck  check that formatting, printing a diff otherwise
#   make clippy        lint the modules (CLIPPY=1) and user space (cargo clippy),
#                      warnings as errors
#   make lint          rustfmtcheck, clippy and tools/kernel-metrics.py --check
#                      (a part of make test)
#   make clean
#
# KDIR defaults to the kernel tools/setup.sh built for $(RSIO_FLAVOUR).

RSIO_FLAVOUR ?= default
RSIO_CACHE ?= $(HOME)/.cache/rsio
RSIO_ENV := $(RSIO_CACHE)/env-$(RSIO_FLAVOUR).sh
KDIR ?= $(shell [ -f $(RSIO_ENV) ] && . $(RSIO_ENV) && echo $$RSIO_KDIR)

# Build with the toolchain the kernel was built with: LLVM=-NN for clang NN.
LLVM ?= $(shell [ -f "$(KDIR)/.config" ] && sed -n 's/^CONFIG_CLANG_VERSION=\([0-9]*\)[0-9][0-9][0-9][0-9]$$/-\1/p' "$(KDIR)/.config")
export PATH := $(HOME)/.cargo/bin:$(PATH)
KMAKE = $(MAKE) -C $(KDIR) M=$(CURDIR) $(if $(LLVM),LLVM=$(LLVM))

.PHONY: all modules clean userspace setup demo test faults soak check-kdir \
	rustfmt rustfmtcheck clippy lint

all: modules

check-kdir:
	@if [ -z "$(KDIR)" ] || [ ! -f "$(KDIR)/Makefile" ]; then \
		echo "rsio: no kernel build tree (KDIR='$(KDIR)'): run 'make setup' or pass KDIR=/path/to/linux-build" >&2; \
		exit 1; \
	fi
	@grep -q '^CONFIG_RUST=y' "$(KDIR)/.config" || { echo "rsio: $(KDIR) is not a Rust-enabled kernel (CONFIG_RUST)" >&2; exit 1; }

modules: check-kdir
	+$(KMAKE) modules

userspace:
	cargo build --release --workspace

setup:
	tools/setup.sh

demo:
	tools/demo.sh

test:
	tools/test.sh

faults:
	RSIO_TEST_PARTS=faults RSIO_FAULTS_FLAVOUR=debug tools/test.sh

soak:
	tools/soak.sh

# The kernel Rust files of rsio's modules (not the user-space crates that
# live beside them: drivers/fabric/logic, sisci/lib, sisci/capi).
KERNEL_RS = $(filter-out %_generated.rs,$(shell find rust ntb lending tests/kmod -name '*.rs') \
	$(filter-out nvme_share/logic/%,$(shell find nvme_share -name '*.rs')) \
	$(wildcard drivers/fabric/*.rs sisci/*.rs))
KSRC = $(KDIR)/source
rustfmt_flags =

rustfmt: check-kdir
	rustfmt --config-path $(KSRC)/.rustfmt.toml $(rustfmt_flags) $(KERNEL_RS)
	cargo fmt --all $(if $(rustfmt_flags),-- $(rustfmt_flags))

rustfmtcheck: rustfmt_flags = --check
rustfmtcheck: rustfmt

# CLIPPY=1 changes every Rust object's command line, so Kbuild rebuilds
# (and lints) all of them; the next plain build rebuilds them again.
clippy: check-kdir
	+$(KMAKE) CLIPPY=1 KRUSTFLAGS=-Dwarnings modules
	cargo clippy --release --workspace --all-targets -- -D warnings

lint: rustfmtcheck clippy
	tools/kernel-metrics.py --check

clean:
	@[ -z "$(KDIR)" ] || [ ! -f "$(KDIR)/Makefile" ] || $(KMAKE) clean
	cargo clean
