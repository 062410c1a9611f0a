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

#[cfg(test)]
mod tests {
    use super::*;
    use rsio_emu::fabric::{Fabric, FabricConfig};
    use rsio_emu::vfio_user::region_index;

    /// A hook the wrapper forgets to forward silently takes the trait's
    /// default; these are the ones whose default differs from the adapter.
    #[test]
    fn the_adapters_own_answers_reach_the_server() {
        let path =
            std::env::temp_dir().join(format!("rsio-node-device-test-{}", std::process::id()));
        let fabric = Fabric::new(
            FabricConfig {
                ram_bytes: 16 << 20,
                ..Default::default()
            },
            &path,
        )
        .unwrap();
        let adapter = Adapter::new(fabric, 0).unwrap();
        let node = NodeDevice::new(0, adapter.clone());
        for index in 0..adapter.num_regions() {
            assert_eq!(
                node.writes_promptly(index),
                adapter.writes_promptly(index),
                "region {index}"
            );
        }
        assert!(node.writes_promptly(region_index::BAR2));
        assert_eq!(node.num_regions(), adapter.num_regions());
        assert_eq!(node.can_reset(), adapter.can_reset());
        let _ = std::fs::remove_file(&path);
    }
}
