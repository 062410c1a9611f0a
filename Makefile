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

.PHONY: all modules clean userspace setup demo test faults soak check-kdir

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

clean:
	@[ -z "$(KDIR)" ] || [ ! -f "$(KDIR)/Makefile" ] || $(KMAKE) clean
	cargo clean
