//! Where a command reads, writes or copies: a local buffer, a BAR2 slot, a
//! peer's advertised window through the direct window (BAR4), or (for DMA
//! only) any bus address.
//!
//! ```text
//! NAME[+OFF]      local buffer NAME (see `alloc`)
//! slot:S[+OFF]    BAR2 slot S, i.e. whatever the LUT maps there
//! peer:P[+OFF]    the window node P advertised to us, through BAR4
//! bus:ADDR        bus address ADDR, unchecked (DMA only: error paths)
//! ```
//!
//! A node that exposes a window advertises it to each peer it lets in
//! through that peer's scratchpads ([`advertise`]): `SPAD[0]` =
//! `0x5749_0000 | window`, `SPAD[1..=2]` = its bus address, `SPAD[3]` = its
//! size. That is how the other side learns where the memory is.

use std::str::FromStr;

use anyhow::{bail, Context, Result};

use super::adapter::Adapter;
use super::mmio::Mmio;
use super::parse;

/// Marks scratchpad 0 as a window advertisement ("WI"), window in bits 15:0.
pub const ADVERT_MAGIC: u32 = 0x5749_0000;

/// A place, as given on the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Place {
    Buffer { name: String, offset: u64 },
    Slot { slot: usize, offset: u64 },
    Peer { node: usize, offset: u64 },
    Bus { addr: u64 },
}

impl FromStr for Place {
    type Err = String;

    fn from_str(text: &str) -> Result<Place, String> {
        let (base, offset) = match text.split_once('+') {
            Some((base, offset)) => (base, parse::size(offset)?),
            None => (text, 0),
        };
        let index = |what: &str, value: &str| {
            parse::number(value)
                .and_then(|v| usize::try_from(v).map_err(|e| e.to_string()))
                .map_err(|e| format!("{what} in {text:?}: {e}"))
        };
        if let Some(addr) = text.strip_prefix("bus:") {
            let addr = parse::number(addr).map_err(|e| format!("address in {text:?}: {e}"))?;
            Ok(Place::Bus { addr })
        } else if let Some(slot) = base.strip_prefix("slot:") {
            Ok(Place::Slot {
                slot: index("slot", slot)?,
                offset,
            })
        } else if let Some(node) = base.strip_prefix("peer:") {
            Ok(Place::Peer {
                node: index("node", node)?,
                offset,
            })
        } else if !base.is_empty()
            && base
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            Ok(Place::Buffer {
                name: base.to_owned(),
                offset,
            })
        } else {
            Err(format!("{text:?} is not a buffer name, slot:S or peer:P"))
        }
    }
}

impl std::fmt::Display for Place {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (base, offset) = match self {
            Place::Buffer { name, offset } => (format!("buffer {name}"), offset),
            Place::Slot { slot, offset } => (format!("slot {slot}"), offset),
            Place::Peer { node, offset } => (format!("node {node}'s window (direct)"), offset),
            Place::Bus { addr } => return write!(f, "bus address {addr:#x}"),
        };
        if *offset == 0 {
            f.write_str(&base)
        } else {
            write!(f, "{base} +{offset:#x}")
        }
    }
}

/// A window a peer advertised.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Advert {
    pub window: usize,
    pub addr: u64,
    pub size: u64,
}

/// Tells node `p` about our window: the scratchpads of its block for us.
pub fn advertise(adapter: &Adapter, p: usize, advert: Advert) -> Result<()> {
    let size = u32::try_from(advert.size).context("windows over 4 GiB cannot be advertised")?;
    adapter.write_peer_spad(p, 1, advert.addr as u32)?;
    adapter.write_peer_spad(p, 2, (advert.addr >> 32) as u32)?;
    adapter.write_peer_spad(p, 3, size)?;
    adapter.write_peer_spad(p, 0, ADVERT_MAGIC | advert.window as u32)
}

/// The window node `p` advertised to us.
pub fn advertised(adapter: &Adapter, p: usize) -> Result<Advert> {
    adapter.check_peer(p)?;
    let tag = adapter.spad(p, 0)?;
    if tag & 0xFFFF_0000 != ADVERT_MAGIC {
        bail!("node {p} advertised no window (SPAD 0 is {tag:#x}; run `expose` there first)");
    }
    Ok(Advert {
        window: (tag & 0xFFFF) as usize,
        addr: u64::from(adapter.spad(p, 1)?) | u64::from(adapter.spad(p, 2)?) << 32,
        size: u64::from(adapter.spad(p, 3)?),
    })
}

/// A window place resolved: the mapping and offset the CPU uses, the bus
/// address the DMA engine uses, and how many bytes are there.
pub struct Window<'a> {
    pub map: &'a Mmio,
    pub offset: u64,
    pub bus: u64,
    pub room: u64,
}

/// Resolves a slot or peer place (buffers are the session's).
pub fn window<'a>(adapter: &'a Adapter, place: &Place) -> Result<Window<'a>> {
    let g = &adapter.geometry;
    match *place {
        Place::Slot { slot, offset } => {
            if slot >= g.lut_slots {
                bail!("no slot {slot} (the adapter has {})", g.lut_slots);
            }
            let at = ((slot as u64) << g.slot_shift) + offset;
            let bar2 = &adapter.bar2;
            Ok(Window {
                map: &bar2.map,
                offset: at,
                bus: bar2.bus + at,
                room: bar2.size.saturating_sub(at),
            })
        }
        Place::Peer { node, offset } => {
            let advert = advertised(adapter, node)?;
            let bar4 = adapter
                .bar4
                .as_ref()
                .context("the adapter has no direct window")?;
            if g.direct_nodes & (1 << node) == 0 {
                bail!(
                    "node {node} is not in the direct window (DIRECT_NODES {:#x})",
                    g.direct_nodes
                );
            }
            let at = ((node as u64) << g.direct_shift) + advert.addr + offset;
            Ok(Window {
                map: &bar4.map,
                offset: at,
                bus: bar4.bus + at,
                room: advert.size.saturating_sub(offset),
            })
        }
        Place::Buffer { .. } => bail!("{place} is local memory, not a window"),
        Place::Bus { .. } => bail!("{place} is for DMA only"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn places_parse_with_optional_offsets() {
        assert_eq!(
            "rx".parse(),
            Ok(Place::Buffer {
                name: "rx".into(),
                offset: 0
            })
        );
        assert_eq!(
            "slot:3+4K".parse(),
            Ok(Place::Slot {
                slot: 3,
                offset: 4096
            })
        );
        assert_eq!(
            "peer:1+0x100".parse(),
            Ok(Place::Peer {
                node: 1,
                offset: 0x100
            })
        );
        assert_eq!("bus:0x1000".parse(), Ok(Place::Bus { addr: 0x1000 }));
        assert!("slot:x".parse::<Place>().is_err());
        assert!("a/b".parse::<Place>().is_err());
        assert!("".parse::<Place>().is_err());
    }

    #[test]
    fn places_describe_themselves() {
        assert_eq!(Place::Slot { slot: 0, offset: 0 }.to_string(), "slot 0");
        assert_eq!(
            Place::Peer { node: 1, offset: 8 }.to_string(),
            "node 1's window (direct) +0x8"
        );
    }
}
