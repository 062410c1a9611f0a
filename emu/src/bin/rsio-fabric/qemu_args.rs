//! The QEMU arguments that put a VM on the fabric as one node.
//!
//! A node's VM takes its guest RAM from its span of the fabric memory file
//! (so the emulator and BAR4 reach it at memory speed) and its adapter
//! from the node's vfio-user socket:
//!
//! ```text
//! -object
//! memory-backend-file,id=ram,mem-path=DIR/fabric.mem,offset=OFFSET,size=MIBM,share=on
//! -machine
//! q35,memory-backend=ram
//! -device
//! {"driver":"vfio-user-pci","socket":{"path":"DIR/node<i>.sock","type":"unix"}}
//! -object
//! memory-backend-file,id=rsio-direct,mem-path=DIR/fabric.mem,size=BAR4,share=on
//! -device
//! ivshmem-plain,memdev=rsio-direct,addr=0x1e.0
//! ```
//!
//! The last two are the adapter's **direct-window alias** (`DIRECT_ALIAS`,
//! docs/adapter.md): QEMU maps a vfio-user region as a "RAM device", which
//! its device models reach only through bounce buffers, and some of them
//! cannot work that way at all (AHCI keeps its command list mapped; a
//! virtio-scsi request's data is overwritten when its bounce buffers are
//! unmapped). The same file as an `ivshmem-plain` BAR is ordinary guest
//! memory to QEMU, so a node's devices DMA into the direct window through
//! the alias as into RAM. The VM's `-m` must be `MIBM` too. The file holds
//! one argument per line.
//!
//! An expansion chassis (docs/adapter.md section 12) gets the same, plus
//! `-bios DIR/node<i>.bios` (its generated firmware), and its adapter at a
//! fixed address, 00:02.0, where the firmware programs it:
//! `{"driver":"vfio-user-pci","socket":{...},"addr":"0x2.0"}`, and
//! `-global ICH9-LPC.acpi-pci-hotplug-with-bridge-support=off`: no OS runs
//! ACPI there, so its root ports use native PCIe hotplug (a slot powered
//! off completes a pending `device_del`).

use std::path::Path;

use rsio_emu::adapter::regs::direct_alias;
use serde_json::json;

/// Where one node's VM finds its pieces.
#[derive(Clone, Copy, Debug)]
pub struct NodeArgs<'a> {
    /// The fabric memory file.
    pub memory: &'a str,
    /// The node's span in the file.
    pub offset: u64,
    /// The node's RAM in MiB.
    pub ram_mib: u64,
    /// The node's vfio-user socket.
    pub socket: &'a str,
    /// The size of BAR4 and of the memory file (0: no direct window, and
    /// no alias).
    pub direct_bytes: u64,
    /// A chassis: its firmware image.
    pub bios: Option<&'a str>,
}

impl NodeArgs<'_> {
    /// The arguments, in order.
    pub fn args(&self) -> Vec<String> {
        let backend = format!(
            "memory-backend-file,id=ram,mem-path={},offset={},size={}M,share=on",
            escape_option_value(self.memory),
            self.offset,
            self.ram_mib
        );
        let mut device =
            json!({ "driver": "vfio-user-pci", "socket": { "path": self.socket, "type": "unix" } });
        if self.bios.is_some() {
            device["addr"] = json!(format!("{:#x}.0", rsio_emu::chassis::ADAPTER_SLOT));
        }
        let mut args = vec![
            "-object".into(),
            backend,
            "-machine".into(),
            "q35,memory-backend=ram".into(),
            "-device".into(),
            device.to_string(),
        ];
        if self.direct_bytes != 0 {
            args.extend([
                "-object".into(),
                format!(
                    "memory-backend-file,id=rsio-direct,mem-path={},size={},share=on",
                    escape_option_value(self.memory),
                    self.direct_bytes
                ),
                "-device".into(),
                format!(
                    "ivshmem-plain,memdev=rsio-direct,addr={:#x}.0",
                    direct_alias::SLOT
                ),
            ]);
        }
        if let Some(bios) = self.bios {
            // No OS runs ACPI hotplug on a chassis: its root ports use
            // native PCIe hotplug, so powering a slot off completes a
            // pending device_del (docs/adapter.md section 12).
            args.extend([
                "-bios".into(),
                bios.into(),
                "-global".into(),
                "ICH9-LPC.acpi-pci-hotplug-with-bridge-support=off".into(),
            ]);
        }
        args
    }

    /// The arguments file's contents: one argument per line.
    pub fn file_contents(&self) -> String {
        self.args().iter().map(|arg| format!("{arg}\n")).collect()
    }

    /// Writes the arguments file.
    pub fn write(&self, path: &Path) -> Result<(), String> {
        std::fs::write(path, self.file_contents())
            .map_err(|e| format!("cannot write {}: {e}", path.display()))
    }
}

/// Escapes a value of a QEMU `key=value,...` option: a comma is doubled.
fn escape_option_value(value: &str) -> String {
    value.replace(',', ",,")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node1() -> NodeArgs<'static> {
        NodeArgs {
            memory: "/run/f/fabric.mem",
            offset: 1 << 29,
            ram_mib: 384,
            socket: "/run/f/node1.sock",
            direct_bytes: 4 << 29,
            bios: None,
        }
    }

    #[test]
    fn a_chassis_gets_its_firmware_and_its_adapter_at_00_02_0() {
        let args = NodeArgs {
            bios: Some("/run/f/node1.bios"),
            ..node1()
        }
        .args();
        assert_eq!(args.len(), 14);
        let device: serde_json::Value = serde_json::from_str(&args[5]).unwrap();
        assert_eq!(device["addr"], "0x2.0");
        assert_eq!(device["driver"], "vfio-user-pci");
        assert_eq!(args[9], "ivshmem-plain,memdev=rsio-direct,addr=0x1e.0");
        assert_eq!(
            args[10..],
            [
                "-bios",
                "/run/f/node1.bios",
                "-global",
                "ICH9-LPC.acpi-pci-hotplug-with-bridge-support=off"
            ]
        );
    }

    #[test]
    fn a_node_gets_its_span_of_the_memory_file_and_its_socket() {
        assert_eq!(
            node1().file_contents(),
            "-object\n\
             memory-backend-file,id=ram,mem-path=/run/f/fabric.mem,offset=536870912,size=384M,share=on\n\
             -machine\n\
             q35,memory-backend=ram\n\
             -device\n\
             {\"driver\":\"vfio-user-pci\",\"socket\":{\"path\":\"/run/f/node1.sock\",\"type\":\"unix\"}}\n\
             -object\n\
             memory-backend-file,id=rsio-direct,mem-path=/run/f/fabric.mem,size=2147483648,share=on\n\
             -device\n\
             ivshmem-plain,memdev=rsio-direct,addr=0x1e.0\n"
        );
    }

    #[test]
    fn no_direct_window_no_alias() {
        let args = NodeArgs {
            direct_bytes: 0,
            ..node1()
        }
        .args();
        assert_eq!(args.len(), 6);
    }

    #[test]
    fn commas_and_quotes_in_paths_survive_qemus_parsers() {
        let args = NodeArgs {
            memory: "/a,b/fabric.mem",
            socket: "/a\"b/node1.sock",
            ..node1()
        }
        .args();
        assert!(
            args[1].contains("mem-path=/a,,b/fabric.mem,offset="),
            "{}",
            args[1]
        );
        let device: serde_json::Value = serde_json::from_str(&args[5]).unwrap();
        assert_eq!(device["socket"]["path"], "/a\"b/node1.sock");
    }
}
