//! One node's RSIO-NTB1 adapter as a vfio-user device: PCI config space,
//! the BARs of docs/adapter.md, MSI-X, and the glue between the node's QEMU
//! connection and the [`Fabric`] model.

pub mod regs;

use std::sync::{Arc, Mutex, MutexGuard};

use crate::fabric::{BusError, Fabric, NodeHost};
use crate::vfio_user::{
    irq_index, region_index, Bar, ConfigSpace, Device, DmaRegion, Errno, MsixLayout, PciIds, Peer,
    Region, SparseArea, CONFIG_SPACE_SIZE,
};

/// The adapter of node `node` in `fabric`.
pub struct Adapter {
    fabric: Arc<Fabric>,
    node: usize,
    config: Arc<Mutex<ConfigSpace>>,
}

fn lock(c: &Mutex<ConfigSpace>) -> MutexGuard<'_, ConfigSpace> {
    c.lock().unwrap_or_else(|e| e.into_inner())
}

impl Adapter {
    /// Builds node `node`'s adapter.
    pub fn new(fabric: Arc<Fabric>, node: usize) -> Result<Arc<Adapter>, String> {
        if node >= fabric.config().nodes {
            return Err(format!("node {node} is not in the fabric"));
        }
        let mut config = ConfigSpace::new(&PciIds {
            vendor_id: regs::VENDOR_ID,
            device_id: regs::DEVICE_ID,
            subsystem_vendor_id: regs::VENDOR_ID,
            subsystem_id: regs::DEVICE_ID,
            revision: regs::REVISION,
            class_code: regs::CLASS_CODE,
        });
        let c = fabric.config();
        let bar = |r: Result<(), _>| r.map_err(|e| format!("{e}"));
        bar(config.set_bar(0, Bar::memory32(regs::BAR0_SIZE)))?;
        bar(config.set_bar(2, Bar::memory64(c.bar2_size()).prefetchable()))?;
        if c.direct {
            bar(config.set_bar(4, Bar::memory64(c.bar4_size()).prefetchable()))?;
        }
        config
            .add_msix(MsixLayout {
                vectors: regs::MSIX_VECTORS,
                table_bar: 0,
                table_offset: regs::MSIX_TABLE,
                pba_bar: 0,
                pba_offset: regs::MSIX_PBA,
            })
            .map_err(|e| format!("{e}"))?;
        Ok(Arc::new(Adapter {
            fabric,
            node,
            config: Arc::new(Mutex::new(config)),
        }))
    }
}

/// The fabric's view of a node's QEMU: interrupts and bus-master access
/// through the vfio-user connection, BAR addresses from config space.
struct VfioHost {
    peer: Peer,
    config: Arc<Mutex<ConfigSpace>>,
}

impl NodeHost for VfioHost {
    fn raise(&self, vector: u16) {
        let _ = self.peer.irqs().trigger(irq_index::MSIX, u32::from(vector));
    }

    fn bus_read(&self, addr: u64, buf: &mut [u8]) -> Result<(), BusError> {
        if !lock(&self.config).bus_master() {
            return Err(BusError);
        }
        self.peer.dma().dma_read(addr, buf).map_err(|e| {
            log::debug!("bus read of {} bytes at {addr:#x}: {e}", buf.len());
            BusError
        })
    }

    fn bus_write(&self, addr: u64, data: &[u8]) -> Result<(), BusError> {
        if !lock(&self.config).bus_master() {
            return Err(BusError);
        }
        self.peer.dma().dma_write(addr, data).map_err(|e| {
            log::debug!("bus write of {} bytes at {addr:#x}: {e}", data.len());
            BusError
        })
    }

    fn bar_address(&self, bar: usize) -> Option<u64> {
        lock(&self.config).bar_address(bar)
    }
}

impl Device for Adapter {
    fn region(&self, index: u32) -> Region {
        let c = self.fabric.config();
        match index {
            region_index::CONFIG => Region::trapped(CONFIG_SPACE_SIZE as u64),
            region_index::BAR0 => Region::trapped(regs::BAR0_SIZE),
            region_index::BAR2 => Region::trapped(c.bar2_size()),
            region_index::BAR4 if c.direct => match self.fabric.memory().fd() {
                Ok(fd) => {
                    // Map every node's span; the rest of the power-of-two
                    // BAR stays trapped and reads all-ones.
                    let area = SparseArea {
                        offset: 0,
                        size: self.fabric.memory().len(),
                    };
                    Region::trapped(c.bar4_size()).mappable(fd, 0, vec![area])
                }
                Err(_) => Region::trapped(c.bar4_size()),
            },
            _ => Region::absent(),
        }
    }

    fn irq_count(&self, index: u32) -> u32 {
        match index {
            irq_index::MSIX => u32::from(regs::MSIX_VECTORS),
            irq_index::ERR | irq_index::REQ => 1,
            _ => 0,
        }
    }

    fn region_read(
        &self,
        peer: &Peer,
        index: u32,
        offset: u64,
        data: &mut [u8],
    ) -> Result<(), Errno> {
        match index {
            region_index::CONFIG => lock(&self.config).read(offset, data),
            region_index::BAR0 => {
                let pba = u64::from(regs::MSIX_PBA);
                if (pba..pba + 8).contains(&offset) && offset + data.len() as u64 <= pba + 8 {
                    let bits = peer.irqs().pending_bits(irq_index::MSIX, 0) >> (8 * (offset - pba));
                    let n = data.len().min(8);
                    data[..n].copy_from_slice(&bits.to_le_bytes()[..n]);
                } else {
                    self.fabric.bar0_read(self.node, offset, data);
                }
                Ok(())
            }
            region_index::BAR2 => {
                self.fabric.bar2_read(self.node, offset, data);
                Ok(())
            }
            region_index::BAR4 => {
                // Beyond the mapped spans: no memory there.
                data.fill(0xFF);
                Ok(())
            }
            _ => Err(Errno::EINVAL),
        }
    }

    fn region_write(
        &self,
        _peer: &Peer,
        index: u32,
        offset: u64,
        data: &[u8],
    ) -> Result<(), Errno> {
        match index {
            region_index::CONFIG => lock(&self.config).write(offset, data),
            region_index::BAR0 => {
                self.fabric.bar0_write(self.node, offset, data);
                Ok(())
            }
            region_index::BAR2 => {
                self.fabric.bar2_write(self.node, offset, data);
                Ok(())
            }
            region_index::BAR4 => Ok(()),
            _ => Err(Errno::EINVAL),
        }
    }

    /// BAR2 writes copy into the fabric memory, queue for a target's
    /// remote-MMIO worker or signal an eventfd: none waits for a client.
    fn writes_promptly(&self, index: u32) -> bool {
        index == region_index::BAR2
    }

    fn dma_map(&self, _peer: &Peer, _region: &DmaRegion) {}

    fn reset(&self, _peer: &Peer) -> Result<(), Errno> {
        lock(&self.config).reset();
        self.fabric.reset(self.node);
        Ok(())
    }

    fn connected(&self, peer: &Peer) {
        let host = VfioHost {
            peer: peer.clone(),
            config: self.config.clone(),
        };
        self.fabric.attach(self.node, Arc::new(host));
    }

    fn disconnected(&self, _peer: &Peer) {
        self.fabric.detach(self.node);
        lock(&self.config).reset();
    }
}
