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
#   make install PREFIX=/opt/DIS [DESTDIR=...]
#                      install the SISCI library as SISCI programs expect it:
#                      headers in $(PREFIX)/include and include/dis, libsisci.so
#                      and libsisci.a in $(PREFIX)/lib64 (and lib, a link to it
#                      unless it exists: build scripts look there too), sisci.pc in
#                      $(PREFIX)/lib64/pkgconfig (builds it first; SISCI_BUILD=0
#                      installs what $(SISCI_LIBDIR) holds)
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
	rustfmt rustfmtcheck clippy lint install

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

# The SISCI library in the install layout of SISCI programs (Dolphin's
# /opt/DIS: include/, include/dis/, lib64/ under one prefix), with a
# pkg-config file pointing at it. sisci-capi's host test tests/compat.rs
# installs into a temporary prefix with it (so make test covers it).
PREFIX ?= /opt/DIS
DESTDIR ?=
SISCI_BUILD ?= 1
SISCI_LIBDIR ?= target/release
SISCI_HEADERS = sisci/include/sisci_api.h sisci/include/sisci_types.h sisci/include/sisci_error.h
SISCI_VERSION = $(shell sed -n 's/^version = "\(.*\)"/\1/p' sisci/capi/Cargo.toml | head -n1)

install:
ifneq ($(SISCI_BUILD),0)
	cargo build --release -p sisci-capi
endif
	install -d $(DESTDIR)$(PREFIX)/include/dis $(DESTDIR)$(PREFIX)/lib64/pkgconfig
	install -m 644 $(SISCI_HEADERS) $(DESTDIR)$(PREFIX)/include/
	install -m 644 sisci/include/dis/dis_types.h $(DESTDIR)$(PREFIX)/include/dis/
	install -m 755 $(SISCI_LIBDIR)/libsisci.so $(DESTDIR)$(PREFIX)/lib64/
	install -m 644 $(SISCI_LIBDIR)/libsisci.a $(DESTDIR)$(PREFIX)/lib64/
	[ -e $(DESTDIR)$(PREFIX)/lib ] || ln -s lib64 $(DESTDIR)$(PREFIX)/lib
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$${exec_prefix}/lib64|' \
		-e 's|@INCLUDEDIR@|$${prefix}/include|' -e 's|@VERSION@|$(SISCI_VERSION)|' \
		sisci/capi/sisci.pc.in >$(DESTDIR)$(PREFIX)/lib64/pkgconfig/sisci.pc

clean:
	@[ -z "$(KDIR)" ] || [ ! -f "$(KDIR)/Makefile" ] || $(KMAKE) clean
	cargo clean
