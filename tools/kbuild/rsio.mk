# SPDX-License-Identifier: GPL-2.0
# Shared Kbuild rules for rsio's modules. Include from a module's Kbuild.
#
# rsio_bindgen: generates Rust bindings for C declarations the kernel crate
# does not cover, with the kernel's own bindgen settings (rust/Makefile) and
# the module's C flags. Types the kernel crate already binds are reused from
# kernel::bindings (--no-recursive-allowlist), so our bindings and the kernel
# crate's agree on `device`, `pci_dev`, ... Set rsio_bindgen_flags per target
# (allowlists). libclang writes the depfile through -Wp,-MMD in c_flags.

rsio_bindgen_cflags = $(filter-out $(CC_FLAGS_LTO),$(c_flags)) -fno-builtin -D__BINDGEN__ -DMODULE

quiet_cmd_rsio_bindgen = BINDGEN $@
      cmd_rsio_bindgen = \
	$(BINDGEN) $< --rust-target 1.85 --use-core --with-derive-default \
		--ctypes-prefix ffi --no-layout-tests --no-debug '.*' \
		--enable-function-attribute-detection --no-recursive-allowlist \
		--no-doc-comments \
		--raw-line 'use kernel::ffi;' --raw-line 'use kernel::bindings::*;' \
		$(rsio_bindgen_flags) -o $@ -- $(rsio_bindgen_cflags)
