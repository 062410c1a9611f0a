//! A node's adapter as served: the [`Adapter`], plus a log line whenever
//! the node's VM connects, disconnects or resets the device.

use std::sync::Arc;

use rsio_emu::adapter::Adapter;
use rsio_emu::vfio_user::{Device, DmaRegion, Errno, Peer, Region};

/// Node `node`'s adapter, announcing its VM's comings and goings.
pub struct NodeDevice {
    node: usize,
    adapter: Arc<Adapter>,
}

impl NodeDevice {
    pub fn new(node: usize, adapter: Arc<Adapter>) -> Arc<NodeDevice> {
        Arc::new(NodeDevice { node, adapter })
    }
}

impl Device for NodeDevice {
    fn region(&self, index: u32) -> Region {
        self.adapter.region(index)
    }

    fn num_regions(&self) -> u32 {
        self.adapter.num_regions()
    }

    fn irq_count(&self, index: u32) -> u32 {
        self.adapter.irq_count(index)
    }

    fn region_read(
        &self,
        peer: &Peer,
        index: u32,
        offset: u64,
        data: &mut [u8],
    ) -> Result<(), Errno> {
        self.adapter.region_read(peer, index, offset, data)
    }

    fn region_write(&self, peer: &Peer, index: u32, offset: u64, data: &[u8]) -> Result<(), Errno> {
        self.adapter.region_write(peer, index, offset, data)
    }

    fn writes_promptly(&self, index: u32) -> bool {
        self.adapter.writes_promptly(index)
    }

    fn dma_map(&self, peer: &Peer, region: &DmaRegion) {
        self.adapter.dma_map(peer, region)
    }

    fn dma_unmap(&self, peer: &Peer, region: &DmaRegion) {
        self.adapter.dma_unmap(peer, region)
    }

    fn can_reset(&self) -> bool {
        self.adapter.can_reset()
    }

    fn reset(&self, peer: &Peer) -> Result<(), Errno> {
        log::debug!("node {}: device reset", self.node);
        self.adapter.reset(peer)
    }

    fn connected(&self, peer: &Peer) {
        self.adapter.connected(peer);
        log::info!("node {}: VM connected", self.node);
    }

    fn disconnected(&self, peer: &Peer) {
        self.adapter.disconnected(peer);
        log::info!("node {}: VM disconnected", self.node);
    }
}
