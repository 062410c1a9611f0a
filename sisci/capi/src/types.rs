// SPDX-License-Identifier: GPL-2.0

//! The C types and constants of `sisci/include/*.h`, on the Rust side.
//! Keep the two in sync (the C smoke test and `tests/c_link.rs` check the
//! important ones from C).
#![allow(non_camel_case_types, missing_docs, dead_code)]

use std::ffi::{c_char, c_uint, c_void};

/// `sci_error_t` (a C enum: an `int`-sized value).
pub type sci_error_t = c_uint;

pub const SCI_ERR_MASK: u32 = 0x4000_0000;
pub const SCI_ERR_OK: sci_error_t = 0;
pub const SCI_ERR_BUSY: sci_error_t = 0x900 | SCI_ERR_MASK;
pub const SCI_ERR_FLAG_NOT_IMPLEMENTED: sci_error_t = 0x901 | SCI_ERR_MASK;
pub const SCI_ERR_ILLEGAL_FLAG: sci_error_t = 0x902 | SCI_ERR_MASK;
pub const SCI_ERR_NOSPC: sci_error_t = 0x904 | SCI_ERR_MASK;
pub const SCI_ERR_API_NOSPC: sci_error_t = 0x905 | SCI_ERR_MASK;
pub const SCI_ERR_HW_NOSPC: sci_error_t = 0x906 | SCI_ERR_MASK;
pub const SCI_ERR_NOT_IMPLEMENTED: sci_error_t = 0x907 | SCI_ERR_MASK;
pub const SCI_ERR_ILLEGAL_ADAPTERNO: sci_error_t = 0x908 | SCI_ERR_MASK;
pub const SCI_ERR_NO_SUCH_ADAPTERNO: sci_error_t = 0x909 | SCI_ERR_MASK;
pub const SCI_ERR_TIMEOUT: sci_error_t = 0x90A | SCI_ERR_MASK;
pub const SCI_ERR_OUT_OF_RANGE: sci_error_t = 0x90B | SCI_ERR_MASK;
pub const SCI_ERR_NO_SUCH_SEGMENT: sci_error_t = 0x90C | SCI_ERR_MASK;
pub const SCI_ERR_ILLEGAL_NODEID: sci_error_t = 0x90D | SCI_ERR_MASK;
pub const SCI_ERR_CONNECTION_REFUSED: sci_error_t = 0x90E | SCI_ERR_MASK;
pub const SCI_ERR_SEGMENT_NOT_CONNECTED: sci_error_t = 0x90F | SCI_ERR_MASK;
pub const SCI_ERR_SIZE_ALIGNMENT: sci_error_t = 0x910 | SCI_ERR_MASK;
pub const SCI_ERR_OFFSET_ALIGNMENT: sci_error_t = 0x911 | SCI_ERR_MASK;
pub const SCI_ERR_ILLEGAL_PARAMETER: sci_error_t = 0x912 | SCI_ERR_MASK;
pub const SCI_ERR_MAX_ENTRIES: sci_error_t = 0x913 | SCI_ERR_MASK;
pub const SCI_ERR_SEGMENT_NOT_PREPARED: sci_error_t = 0x914 | SCI_ERR_MASK;
pub const SCI_ERR_ILLEGAL_ADDRESS: sci_error_t = 0x915 | SCI_ERR_MASK;
pub const SCI_ERR_ILLEGAL_OPERATION: sci_error_t = 0x916 | SCI_ERR_MASK;
pub const SCI_ERR_ILLEGAL_QUERY: sci_error_t = 0x917 | SCI_ERR_MASK;
pub const SCI_ERR_SEGMENTID_USED: sci_error_t = 0x918 | SCI_ERR_MASK;
pub const SCI_ERR_SYSTEM: sci_error_t = 0x919 | SCI_ERR_MASK;
pub const SCI_ERR_CANCELLED: sci_error_t = 0x91A | SCI_ERR_MASK;
pub const SCI_ERR_NOT_CONNECTED: sci_error_t = 0x91B | SCI_ERR_MASK;
pub const SCI_ERR_NOT_AVAILABLE: sci_error_t = 0x91C | SCI_ERR_MASK;
pub const SCI_ERR_INCONSISTENT_VERSIONS: sci_error_t = 0x91D | SCI_ERR_MASK;
pub const SCI_ERR_COND_INT_RACE_PROBLEM: sci_error_t = 0x91E | SCI_ERR_MASK;
pub const SCI_ERR_OVERFLOW: sci_error_t = 0x91F | SCI_ERR_MASK;
pub const SCI_ERR_NOT_INITIALIZED: sci_error_t = 0x920 | SCI_ERR_MASK;
pub const SCI_ERR_ACCESS: sci_error_t = 0x921 | SCI_ERR_MASK;
pub const SCI_ERR_NOT_SUPPORTED: sci_error_t = 0x922 | SCI_ERR_MASK;
pub const SCI_ERR_DEPRECATED: sci_error_t = 0x923 | SCI_ERR_MASK;
pub const SCI_ERR_NO_SUCH_NODEID: sci_error_t = 0xA00 | SCI_ERR_MASK;
pub const SCI_ERR_NODE_NOT_RESPONDING: sci_error_t = 0xA02 | SCI_ERR_MASK;
pub const SCI_ERR_NO_REMOTE_LINK_ACCESS: sci_error_t = 0xA04 | SCI_ERR_MASK;
pub const SCI_ERR_NO_LINK_ACCESS: sci_error_t = 0xA05 | SCI_ERR_MASK;
pub const SCI_ERR_TRANSFER_FAILED: sci_error_t = 0xA06 | SCI_ERR_MASK;
pub const SCI_ERR_EWOULD_BLOCK: sci_error_t = 0xB00 | SCI_ERR_MASK;
pub const SCI_ERR_SEMAPHORE_COUNT_EXCEEDED: sci_error_t = 0xB01 | SCI_ERR_MASK;
pub const SCI_ERR_IRQL_ILLEGAL: sci_error_t = 0xB02 | SCI_ERR_MASK;
pub const SCI_ERR_REMOTE_BUSY: sci_error_t = 0xB03 | SCI_ERR_MASK;
pub const SCI_ERR_LOCAL_BUSY: sci_error_t = 0xB04 | SCI_ERR_MASK;
pub const SCI_ERR_ALL_BUSY: sci_error_t = 0xB05 | SCI_ERR_MASK;

pub const SCI_INFINITE_TIMEOUT: c_uint = 0xffff_ffff;
pub const DIS_BROADCAST_NODEID_GROUP_ALL: c_uint = 252;

pub const SCI_FLAG_USE_CALLBACK: c_uint = 0x1;
pub const SCI_FLAG_EMPTY: c_uint = 0x2;
pub const SCI_FLAG_PRIVATE: c_uint = 0x4;
pub const SCI_FLAG_DMA_SOURCE_ONLY: c_uint = 0x8;
pub const SCI_FLAG_CUDA_BUFFER: c_uint = 0x2000;
pub const SCI_FLAG_AUTO_ID: c_uint = 0x2000_0000;
pub const SCI_FLAG_DMA_WAIT: c_uint = 0x4;
pub const SCI_FLAG_DMA_READ: c_uint = 0x10;
pub const SCI_FLAG_DMA_PHDMA: c_uint = 0x20;
pub const SCI_FLAG_DMA_GLOBAL: c_uint = 0x40;
pub const SCI_FLAG_DMA_SYSDMA: c_uint = 0x100;
pub const SCI_FLAG_DMA_ADAPTER: c_uint = 0x800;
pub const SCI_FLAG_FORCE_REMOVE: c_uint = 0x20;
pub const SCI_FLAG_BROADCAST: c_uint = 0x0004_0000;
pub const SCI_FLAG_NOTIFY: c_uint = 0x0001_0000;
pub const SCI_FLAG_ASYNCHRONOUS_CONNECT: c_uint = 0x0040_0000;
pub const SCI_FLAG_FAST_BARRIER: c_uint = 0x1;
pub const SCI_FLAG_FORCE_DISCONNECT: c_uint = 0x0080_0000;
pub const SCI_FLAG_FIXED_INTNO: c_uint = 0x2;
pub const SCI_FLAG_SHARED_INT: c_uint = 0x4;
pub const SCI_FLAG_FIXED_MAP_ADDR: c_uint = 0x1;
pub const SCI_FLAG_READONLY_MAP: c_uint = 0x2;
pub const SCI_FLAG_SHARED_MAP: c_uint = 0x2000;
pub const SCI_FLAG_NO_MEMORY_LOOPBACK: c_uint = 0x800;
pub const SCI_FLAG_WRITE_BACK_CACHE_MAP: c_uint = 0x0800_0000;
pub const SCI_FLAG_THREAD_SAFE: c_uint = 0x8;
pub const SCI_FLAG_BLOCK_READ: c_uint = 0x100;
pub const SCI_FLAG_ERROR_CHECK: c_uint = 0x8000;
pub const SCI_FLAG_NO_FLUSH: c_uint = 0x0002_0000;
pub const SCI_FLAG_NO_STORE_BARRIER: c_uint = 0x0008_0000;
pub const SCI_FLAG_FLUSH_CPU_BUFFERS_ONLY: c_uint = 0x4000;
pub const SCI_FLAG_ALLOW_UNICAST: c_uint = 0x80;
pub const SCI_FLAG_LOCK_USER_MEM: c_uint = 0x400;
pub const SCI_FLAG_DMA_USER_MEM: c_uint = 0x200;
pub const SCI_FLAG_COUNTING_INT: c_uint = 0x20;
pub const SCI_FLAG_SHARE_EXTERNAL: c_uint = 0x40;
pub const SCI_FLAG_LOCK_OPERATION: c_uint = 0x4;
pub const SCI_FLAG_CONDITIONAL_INTERRUPT_MAP: c_uint = 0x8;
pub const SCI_FLAG_UNCONDITIONAL_DATA_INTERRUPT_MAP: c_uint = 0x10;
pub const SCI_FLAG_IO_MAP_IOSPACE: c_uint = 0x80;
pub const SCI_FLAG_CACHE_FLUSH: c_uint = 0x0010_0000;
pub const SCI_FLAG_CACHE_INVALIDATE: c_uint = 0x0020_0000;

pub const SCI_Q_VENDORID: c_uint = 1;
pub const SCI_Q_API: c_uint = 2;
pub const SCI_Q_ADAPTER: c_uint = 3;
pub const SCI_Q_SYSTEM: c_uint = 4;
pub const SCI_Q_ADAPTER_DMA_SIZE_ALIGNMENT: c_uint = 1;
pub const SCI_Q_ADAPTER_DMA_OFFSET_ALIGNMENT: c_uint = 2;
pub const SCI_Q_ADAPTER_DMA_MTU: c_uint = 3;
pub const SCI_Q_ADAPTER_SUGGESTED_MIN_DMA_SIZE: c_uint = 4;
pub const SCI_Q_ADAPTER_SUGGESTED_MIN_BLOCK_SIZE: c_uint = 5;
pub const SCI_Q_ADAPTER_NODEID: c_uint = 6;
pub const SCI_Q_ADAPTER_CONFIGURED: c_uint = 11;
pub const SCI_Q_ADAPTER_LINK_OPERATIONAL: c_uint = 12;
pub const SCI_Q_ADAPTER_HW_LINK_STATUS_IS_OK: c_uint = 13;
pub const SCI_Q_ADAPTER_NUMBER: c_uint = 14;
pub const SCI_Q_ADAPTER_INSTANCE_NUMBER: c_uint = 15;
pub const SCI_Q_ADAPTER_FIRMWARE_OK: c_uint = 16;
pub const SCI_Q_ADAPTER_DMA_CHANNELS: c_uint = 30;
pub const SCI_Q_ADAPTER_MULTICAST_GROUPS: c_uint = 31;
pub const SCI_Q_ADAPTER_NUMBER_OF_NODES: c_uint = 32;
pub const SCI_Q_ADAPTER_BDF: c_uint = 33;
pub const SCI_Q_SYSTEM_WRITE_POSTING_ENABLED: c_uint = 2;
pub const SCI_Q_SYSTEM_WRITE_COMBINING_ENABLED: c_uint = 3;

/// `sci_segment_cb_reason_t`.
pub type sci_segment_cb_reason_t = c_uint;
pub const SCI_CB_CONNECT: c_uint = 1;
pub const SCI_CB_DISCONNECT: c_uint = 2;
pub const SCI_CB_NOT_OPERATIONAL: c_uint = 3;
pub const SCI_CB_OPERATIONAL: c_uint = 4;
pub const SCI_CB_LOST: c_uint = 5;

/// `sci_dma_queue_state_t`.
pub type sci_dma_queue_state_t = c_uint;
pub const SCI_DMAQUEUE_IDLE: c_uint = 0;
pub const SCI_DMAQUEUE_GATHER: c_uint = 1;
pub const SCI_DMAQUEUE_POSTED: c_uint = 2;
pub const SCI_DMAQUEUE_DONE: c_uint = 3;
pub const SCI_DMAQUEUE_ABORTED: c_uint = 4;
pub const SCI_DMAQUEUE_ERROR: c_uint = 5;

/// `sci_sequence_status_t`.
pub type sci_sequence_status_t = c_uint;
pub const SCI_SEQ_OK: c_uint = 0;
pub const SCI_SEQ_RETRIABLE: c_uint = 1;
pub const SCI_SEQ_NOT_RETRIABLE: c_uint = 2;
pub const SCI_SEQ_PENDING: c_uint = 3;

/// `sci_callback_action_t`.
pub type sci_callback_action_t = c_uint;
pub const SCI_CALLBACK_CANCEL: c_uint = 1;
pub const SCI_CALLBACK_CONTINUE: c_uint = 2;

/// `DIS_MAX_NSCIS`: entries of `dis_nodeId_list_t` (one per adapter).
pub const DIS_MAX_NSCIS: usize = 4;
/// `dis_nodeId_list_t`.
pub type dis_nodeId_list_t = [c_uint; DIS_MAX_NSCIS];
/// `dis_virt_adapter_t` / `dis_adapter_type_t` (a C enum).
pub type dis_virt_adapter_t = c_uint;
pub const DIS_ADAPTER_TYPE_UNKNOWN: c_uint = 0;
pub const DIS_ADAPTER_TYPE_RSIO: c_uint = 0x5210;

/// Opaque handles: pointers to library-owned objects.
pub type Handle = *mut c_void;

/// `dis_dma_vec_t`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct dis_dma_vec_t {
    pub size: usize,
    pub local_offset: usize,
    pub remote_offset: usize,
    pub flags: c_uint,
}

/// `sci_query_string_t`.
#[repr(C)]
pub struct sci_query_string_t {
    pub str_: *mut c_char,
    pub length: c_uint,
}

/// `sci_query_adapter_t`.
#[repr(C)]
pub struct sci_query_adapter_t {
    pub local_adapter_no: c_uint,
    pub port_no: c_uint,
    pub subcommand: c_uint,
    pub data: *mut c_void,
}

/// `sci_query_system_t`.
#[repr(C)]
pub struct sci_query_system_t {
    pub subcommand: c_uint,
    pub data: *mut c_void,
}

pub type sci_cb_local_segment_t = Option<
    unsafe extern "C" fn(
        *mut c_void,
        Handle,
        sci_segment_cb_reason_t,
        c_uint,
        c_uint,
        sci_error_t,
    ) -> sci_callback_action_t,
>;
pub type sci_cb_remote_segment_t = Option<
    unsafe extern "C" fn(
        *mut c_void,
        Handle,
        sci_segment_cb_reason_t,
        sci_error_t,
    ) -> sci_callback_action_t,
>;
pub type sci_cb_dma_t =
    Option<unsafe extern "C" fn(*mut c_void, Handle, sci_error_t) -> sci_callback_action_t>;
pub type sci_cb_interrupt_t =
    Option<unsafe extern "C" fn(*mut c_void, Handle, sci_error_t) -> sci_callback_action_t>;
pub type sci_cb_data_interrupt_t = Option<
    unsafe extern "C" fn(
        *mut c_void,
        Handle,
        *mut c_void,
        c_uint,
        sci_error_t,
    ) -> sci_callback_action_t,
>;
