//! The host-side inputs of a run: the QEMU launcher, the guest kernel, the
//! initramfs parts and, for fabric scenarios, the fabric emulator. Each comes
//! from a command-line option or, failing that, from the environment that
//! `tools/setup.sh` writes (`~/.cache/rsio/env-<flavour>.sh`); the emulator
//! is by default the `rsio-fabric` cargo builds next to the runner.

use std::ffi::OsString;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use anyhow::{bail, ensure, Context, Result};

/// Validated paths to everything a node boots from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Platform {
    pub qemu: PathBuf,
    pub kernel: PathBuf,
    /// Concatenated in this order into one initramfs.
    pub initrd: Vec<PathBuf>,
    /// `rsio-fabric`, resolved only if a scenario to run needs it
    /// ([`Platform::resolve_fabric`]).
    pub fabric: Option<PathBuf>,
}

const ENV_HINT: &str = "source ~/.cache/rsio/env-default.sh after tools/setup.sh";

impl Platform {
    /// Resolves each path from its option, else its environment variable,
    /// and checks that the files exist.
    ///
    /// The initramfs falls back from `RSIO_INITRD` to `RSIO_ROOTFS`, the
    /// base image that setup's environment file names.
    pub fn resolve(
        qemu: Option<PathBuf>,
        kernel: Option<PathBuf>,
        initrd: Option<OsString>,
        env: impl Fn(&str) -> Option<OsString>,
    ) -> Result<Platform> {
        let qemu = qemu
            .or_else(|| env("RSIO_QEMU").map(PathBuf::from))
            .with_context(|| format!("no QEMU: pass --qemu or set RSIO_QEMU ({ENV_HINT})"))?;
        let kernel = kernel
            .or_else(|| env("RSIO_KERNEL").map(PathBuf::from))
            .with_context(|| format!("no kernel: pass --kernel or set RSIO_KERNEL ({ENV_HINT})"))?;
        let initrd = initrd
            .or_else(|| env("RSIO_INITRD"))
            .or_else(|| env("RSIO_ROOTFS"))
            .with_context(|| {
                format!("no initramfs: pass --initrd or set RSIO_INITRD ({ENV_HINT})")
            })?;
        let initrd = split_parts(&initrd)?;

        check_executable(&qemu).context("QEMU")?;
        check_file(&kernel).context("kernel")?;
        for part in &initrd {
            check_file(part).context("initramfs part")?;
        }
        Ok(Platform {
            qemu,
            kernel,
            initrd,
            fabric: None,
        })
    }

    /// Resolves the fabric emulator from its option, else `RSIO_FABRIC`,
    /// else `rsio-fabric` in the directory of `runner` (this executable),
    /// and checks it can be run.
    pub fn resolve_fabric(
        &mut self,
        option: Option<PathBuf>,
        env: impl Fn(&str) -> Option<OsString>,
        runner: Option<&Path>,
    ) -> Result<()> {
        let fabric = option
            .or_else(|| env("RSIO_FABRIC").map(PathBuf::from))
            .or_else(|| Some(runner?.parent()?.join(FABRIC_BINARY)))
            .with_context(|| {
                format!("no {FABRIC_BINARY}: pass --fabric or set RSIO_FABRIC ({FABRIC_HINT})")
            })?;
        check_executable(&fabric)
            .with_context(|| format!("the fabric emulator ({FABRIC_HINT})"))?;
        // Absolute: host steps get it in their environment, and run elsewhere.
        self.fabric = Some(std::path::absolute(&fabric).context("cannot resolve the fabric path")?);
        Ok(())
    }
}

const FABRIC_BINARY: &str = "rsio-fabric";
const FABRIC_HINT: &str = "cargo build --release -p rsio-emu builds it next to rsio-cluster";

/// Splits a `:`-separated list of initramfs parts.
fn split_parts(list: &OsString) -> Result<Vec<PathBuf>> {
    let list = list
        .to_str()
        .context("the initramfs list is not valid UTF-8")?;
    let parts: Vec<PathBuf> = list
        .split(':')
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .collect();
    ensure!(
        !parts.is_empty(),
        "the initramfs list {list:?} names no file"
    );
    Ok(parts)
}

fn check_file(path: &Path) -> Result<()> {
    let meta = std::fs::metadata(path).with_context(|| format!("{} not found", path.display()))?;
    ensure!(meta.is_file(), "{} is not a file", path.display());
    Ok(())
}

fn check_executable(path: &Path) -> Result<()> {
    check_file(path)?;
    let mode = std::fs::metadata(path)?.permissions().mode();
    if mode & 0o111 == 0 {
        bail!("{} is not executable", path.display());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::TempDir;
    use std::collections::HashMap;

    struct Files {
        dir: TempDir,
    }

    impl Files {
        fn new() -> Files {
            let dir = TempDir::new("platform");
            for name in ["qemu", "bzImage", "base.cpio", "mods.cpio"] {
                std::fs::write(dir.path().join(name), b"x").unwrap();
            }
            let qemu = dir.path().join("qemu");
            std::fs::set_permissions(&qemu, std::fs::Permissions::from_mode(0o755)).unwrap();
            Files { dir }
        }

        fn path(&self, name: &str) -> PathBuf {
            self.dir.path().join(name)
        }

        fn env(&self, vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<OsString> {
            let vars: HashMap<String, OsString> = vars
                .iter()
                .map(|(k, v)| (k.to_string(), self.path(v).into_os_string()))
                .collect();
            move |key| vars.get(key).cloned()
        }
    }

    #[test]
    fn paths_come_from_the_environment() {
        let f = Files::new();
        let env = f.env(&[
            ("RSIO_QEMU", "qemu"),
            ("RSIO_KERNEL", "bzImage"),
            ("RSIO_INITRD", "base.cpio"),
        ]);
        let p = Platform::resolve(None, None, None, env).unwrap();
        assert_eq!(p.qemu, f.path("qemu"));
        assert_eq!(p.kernel, f.path("bzImage"));
        assert_eq!(p.initrd, vec![f.path("base.cpio")]);
    }

    #[test]
    fn options_override_the_environment_and_initrd_parts_split_at_colons() {
        let f = Files::new();
        let env = f.env(&[
            ("RSIO_QEMU", "nope"),
            ("RSIO_KERNEL", "nope"),
            ("RSIO_INITRD", "nope"),
        ]);
        let initrd = format!(
            "{}:{}",
            f.path("base.cpio").display(),
            f.path("mods.cpio").display()
        );
        let p = Platform::resolve(
            Some(f.path("qemu")),
            Some(f.path("bzImage")),
            Some(initrd.into()),
            env,
        )
        .unwrap();
        assert_eq!(p.initrd, vec![f.path("base.cpio"), f.path("mods.cpio")]);
    }

    #[test]
    fn the_initrd_falls_back_to_the_base_rootfs() {
        let f = Files::new();
        let env = f.env(&[
            ("RSIO_QEMU", "qemu"),
            ("RSIO_KERNEL", "bzImage"),
            ("RSIO_ROOTFS", "base.cpio"),
        ]);
        assert_eq!(
            Platform::resolve(None, None, None, env).unwrap().initrd,
            vec![f.path("base.cpio")]
        );
    }

    #[test]
    fn missing_inputs_say_how_to_provide_them() {
        let f = Files::new();
        let e = Platform::resolve(None, None, None, f.env(&[])).unwrap_err();
        assert!(
            format!("{e:#}").contains("pass --qemu or set RSIO_QEMU"),
            "{e:#}"
        );
        let env = f.env(&[
            ("RSIO_QEMU", "qemu"),
            ("RSIO_KERNEL", "vmlinuz"),
            ("RSIO_INITRD", "base.cpio"),
        ]);
        let e = Platform::resolve(None, None, None, env).unwrap_err();
        assert!(
            format!("{e:#}").contains("kernel: ") && format!("{e:#}").contains("vmlinuz not found"),
            "{e:#}"
        );
    }

    fn platform(f: &Files) -> Platform {
        let env = f.env(&[
            ("RSIO_QEMU", "qemu"),
            ("RSIO_KERNEL", "bzImage"),
            ("RSIO_INITRD", "base.cpio"),
        ]);
        let p = Platform::resolve(None, None, None, env).unwrap();
        assert_eq!(p.fabric, None, "the fabric is resolved only on demand");
        p
    }

    #[test]
    fn the_fabric_emulator_defaults_to_the_one_next_to_the_runner() {
        let f = Files::new();
        let mut p = platform(&f);
        let fabric = f.path("rsio-fabric");
        std::fs::write(&fabric, b"#!/bin/sh\n").unwrap();
        std::fs::set_permissions(&fabric, std::fs::Permissions::from_mode(0o755)).unwrap();
        p.resolve_fabric(None, f.env(&[]), Some(&f.path("rsio-cluster")))
            .unwrap();
        assert_eq!(p.fabric, Some(fabric));
    }

    #[test]
    fn the_fabric_option_overrides_the_environment_which_overrides_the_default() {
        let f = Files::new();
        let mut p = platform(&f);
        p.resolve_fabric(
            Some(f.path("qemu")),
            f.env(&[("RSIO_FABRIC", "nope")]),
            None,
        )
        .unwrap();
        assert_eq!(p.fabric, Some(f.path("qemu")));
        p.resolve_fabric(None, f.env(&[("RSIO_FABRIC", "qemu")]), Some(&f.path("x")))
            .unwrap();
        assert_eq!(p.fabric, Some(f.path("qemu")));
    }

    #[test]
    fn a_missing_fabric_emulator_says_how_to_build_it() {
        let f = Files::new();
        let mut p = platform(&f);
        let e = p
            .resolve_fabric(None, f.env(&[]), Some(&f.path("rsio-cluster")))
            .unwrap_err();
        let e = format!("{e:#}");
        assert!(e.contains("rsio-fabric not found"), "{e}");
        assert!(e.contains("cargo build --release -p rsio-emu"), "{e}");
    }

    #[test]
    fn qemu_must_be_executable() {
        let f = Files::new();
        let env = f.env(&[
            ("RSIO_QEMU", "bzImage"),
            ("RSIO_KERNEL", "bzImage"),
            ("RSIO_INITRD", "base.cpio"),
        ]);
        let e = Platform::resolve(None, None, None, env).unwrap_err();
        assert!(format!("{e:#}").contains("is not executable"), "{e:#}");
    }
}
