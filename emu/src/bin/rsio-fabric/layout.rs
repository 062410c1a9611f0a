//! What a served fabric's directory holds, and where.
//!
//! | file | what |
//! | --- | --- |
//! | `fabric.mem` | every node's guest RAM (the fabric memory file) |
//! | `node<i>.sock` | node i's adapter, a vfio-user socket for its QEMU |
//! | `node<i>.qemu-args` | the arguments node i's QEMU adds, one per line |
//! | `node<i>.bios` | chassis node i's firmware (only for `--chassis i`) |
//! | `control.sock` | the control socket (`rsio_emu::control`) |

use std::path::{Path, PathBuf};

/// The longest path a UNIX socket can be bound at (`sun_path` holds 108
/// bytes, the terminating NUL included).
const MAX_SOCKET_PATH: usize = 107;

/// The files of a fabric served in one directory.
#[derive(Clone, Debug)]
pub struct Layout {
    dir: PathBuf,
}

impl Layout {
    /// The layout of `dir`, as given.
    pub fn new(dir: &Path) -> Layout {
        Layout {
            dir: dir.to_path_buf(),
        }
    }

    /// Creates `dir` if needed and returns its layout with an absolute,
    /// UTF-8 path (QEMU's arguments name the files, and QEMU may run
    /// elsewhere) without newlines (they separate those arguments), whose sockets for `nodes` nodes fit a socket address.
    pub fn create(dir: &Path, nodes: usize) -> Result<Layout, String> {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        let dir = dir
            .canonicalize()
            .map_err(|e| format!("cannot resolve {}: {e}", dir.display()))?;
        match dir.to_str() {
            None => {
                return Err(format!(
                    "{} is not UTF-8: QEMU's arguments could not name it",
                    dir.display()
                ))
            }
            Some(text) if text.contains('\n') => {
                return Err(format!(
                    "{text:?} holds a newline: the QEMU arguments files could not name it"
                ))
            }
            Some(_) => {}
        }
        let layout = Layout { dir };
        let sockets = (0..nodes)
            .map(|i| layout.node_socket(i))
            .chain([layout.control_socket()]);
        for socket in sockets {
            let len = socket.as_os_str().len();
            if len > MAX_SOCKET_PATH {
                return Err(format!(
                    "{} is too long for a UNIX socket ({len} bytes, at most {MAX_SOCKET_PATH}): use a shorter --dir",
                    socket.display()
                ));
            }
        }
        Ok(layout)
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The fabric memory file.
    pub fn memory(&self) -> PathBuf {
        self.dir.join("fabric.mem")
    }

    /// Node `node`'s vfio-user socket.
    pub fn node_socket(&self, node: usize) -> PathBuf {
        self.dir.join(format!("node{node}.sock"))
    }

    /// Node `node`'s QEMU arguments file.
    pub fn qemu_args(&self, node: usize) -> PathBuf {
        self.dir.join(format!("node{node}.qemu-args"))
    }

    /// Chassis node `node`'s firmware image.
    pub fn bios(&self, node: usize) -> PathBuf {
        self.dir.join(format!("node{node}.bios"))
    }

    /// The control socket.
    pub fn control_socket(&self) -> PathBuf {
        self.dir.join("control.sock")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_named_after_their_node() {
        let layout = Layout::new(Path::new("/run/f"));
        assert_eq!(layout.memory(), Path::new("/run/f/fabric.mem"));
        assert_eq!(layout.node_socket(3), Path::new("/run/f/node3.sock"));
        assert_eq!(layout.qemu_args(12), Path::new("/run/f/node12.qemu-args"));
        assert_eq!(layout.bios(1), Path::new("/run/f/node1.bios"));
        assert_eq!(layout.control_socket(), Path::new("/run/f/control.sock"));
    }

    #[test]
    fn creating_makes_the_directory_and_an_absolute_path() {
        let base = std::env::temp_dir().join(format!("rsio-fabric-layout-{}", std::process::id()));
        let dir = base.join("a/b");
        let layout = Layout::create(&dir, 2).unwrap();
        assert!(dir.is_dir());
        assert!(layout.dir().is_absolute());
        assert!(layout.node_socket(1).starts_with(layout.dir()));
        let _ = std::fs::remove_dir_all(&base);
    }

    #[test]
    fn directories_too_deep_for_socket_paths_are_refused() {
        let base =
            std::env::temp_dir().join(format!("rsio-fabric-layout-long-{}", std::process::id()));
        let dir = base.join("d".repeat(100));
        let error = Layout::create(&dir, 2).unwrap_err();
        assert!(error.contains("too long for a UNIX socket"), "{error}");
        let _ = std::fs::remove_dir_all(&base);
    }
}
