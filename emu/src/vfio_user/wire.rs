//! Framing messages on a UNIX stream socket, with file descriptors passed
//! as `SCM_RIGHTS` ancillary data.
//!
//! [`recv`] reads exactly one message (header, payload, and every
//! descriptor that arrived with its bytes); [`send`] writes one. Neither
//! trusts the peer: sizes are checked against [`Limits`] before anything is
//! allocated, descriptors are owned (so closed unless kept) from the moment
//! they are received, and truncated ancillary data is reported.

use std::io;
use std::mem;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;

use super::errno::Errno;
use super::protocol::{Header, HEADER_SIZE};

/// The most descriptors one `recvmsg` call makes room for. The kernel
/// passes at most 253 (`SCM_MAX_FD`) per message; vfio-user peers send at
/// most `max_msg_fds` (16 for QEMU).
const MAX_FDS_PER_RECV: usize = 64;

/// What the receiving side accepts.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Largest message, header included.
    pub max_message_size: usize,
    /// Most descriptors in one message.
    pub max_fds: usize,
}

/// A complete message.
#[derive(Debug)]
pub struct Message {
    pub header: Header,
    pub payload: Vec<u8>,
    /// Every descriptor received with the message's bytes.
    pub fds: Vec<OwnedFd>,
}

/// The outcome of reading one message.
#[derive(Debug)]
pub enum Received {
    Message(Message),
    /// A message that cannot be used as is: its payload was skipped and its
    /// descriptors closed, and `errno` says why. The stream stays in sync.
    Malformed {
        header: Header,
        errno: Errno,
    },
}

/// Why no message could be read: the stream is unusable.
#[derive(Debug)]
pub enum RecvError {
    /// The peer closed the connection (possibly mid-message).
    Closed,
    Io(io::Error),
}

/// Reads one message, blocking until it is complete.
pub fn recv(socket: &UnixStream, limits: &Limits) -> Result<Received, RecvError> {
    let mut fds = Vec::new();
    let mut truncated = false;

    let mut head = [0u8; HEADER_SIZE];
    recv_exact(socket, &mut head, &mut fds, &mut truncated)?;
    let header = Header::decode(&head);
    let size = header.size as usize;

    if size < HEADER_SIZE {
        // The header contradicts itself; all we can do is take it as a
        // header-only message.
        return Ok(Received::Malformed {
            header,
            errno: Errno::EINVAL,
        });
    }
    if size > limits.max_message_size {
        skip(socket, size - HEADER_SIZE, &mut fds, &mut truncated)?;
        return Ok(Received::Malformed {
            header,
            errno: Errno::E2BIG,
        });
    }

    let mut payload = vec![0u8; size - HEADER_SIZE];
    recv_exact(socket, &mut payload, &mut fds, &mut truncated)?;

    if truncated || fds.len() > limits.max_fds {
        return Ok(Received::Malformed {
            header,
            errno: Errno::EINVAL,
        });
    }
    Ok(Received::Message(Message {
        header,
        payload,
        fds,
    }))
}

/// Writes one message, passing `fds` along with its first byte.
///
/// Callers sharing a socket between threads must serialise whole calls, or
/// messages interleave.
pub fn send(socket: &UnixStream, header: &Header, payload: &[u8], fds: &[RawFd]) -> io::Result<()> {
    debug_assert_eq!(header.size as usize, HEADER_SIZE + payload.len());
    let head = header.encode();
    let total = HEADER_SIZE + payload.len();
    let mut sent = 0;
    let mut fds = fds;
    while sent < total {
        let (a, b): (&[u8], &[u8]) = if sent < HEADER_SIZE {
            (&head[sent..], payload)
        } else {
            (&payload[sent - HEADER_SIZE..], &[])
        };
        let n = sendmsg(socket, a, b, fds)?;
        if n == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        fds = &[];
        sent += n;
    }
    Ok(())
}

/// One `sendmsg(2)` of up to two buffers, with `fds` as `SCM_RIGHTS`.
fn sendmsg(socket: &UnixStream, a: &[u8], b: &[u8], fds: &[RawFd]) -> io::Result<usize> {
    let mut iov = [
        libc::iovec {
            iov_base: a.as_ptr() as *mut libc::c_void,
            iov_len: a.len(),
        },
        libc::iovec {
            iov_base: b.as_ptr() as *mut libc::c_void,
            iov_len: b.len(),
        },
    ];
    let fd_bytes = mem::size_of_val(fds);
    // SAFETY: CMSG_SPACE only computes a size.
    let space = if fds.is_empty() {
        0
    } else {
        // SAFETY: CMSG_SPACE only computes a size from an integer.
        (unsafe { libc::CMSG_SPACE(fd_bytes as u32) }) as usize
    };
    // u64 elements keep the control buffer aligned for `cmsghdr`.
    let mut control = vec![0u64; space.div_ceil(8)];

    // SAFETY: an all-zero msghdr is a valid, empty one.
    let mut msg: libc::msghdr = unsafe { mem::zeroed() };
    msg.msg_iov = iov.as_mut_ptr();
    msg.msg_iovlen = if b.is_empty() { 1 } else { 2 };
    if !fds.is_empty() {
        msg.msg_control = control.as_mut_ptr().cast();
        msg.msg_controllen = space;
        // msg_control points at `space` bytes, enough for one header
        // carrying `fds.len()` descriptors.
        // SAFETY: so the first header and its data area are in the buffer.
        unsafe {
            let cmsg = libc::CMSG_FIRSTHDR(&msg);
            (*cmsg).cmsg_level = libc::SOL_SOCKET;
            (*cmsg).cmsg_type = libc::SCM_RIGHTS;
            (*cmsg).cmsg_len = libc::CMSG_LEN(fd_bytes as u32) as usize;
            std::ptr::copy_nonoverlapping(
                fds.as_ptr().cast::<u8>(),
                libc::CMSG_DATA(cmsg),
                fd_bytes,
            );
        }
    }
    loop {
        // MSG_NOSIGNAL turns SIGPIPE into EPIPE.
        // SAFETY: msg points at live iovecs and control buffer, only read.
        let n = unsafe { libc::sendmsg(socket.as_raw_fd(), &msg, libc::MSG_NOSIGNAL) };
        if n >= 0 {
            return Ok(n as usize);
        }
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
}

/// Fills `buf` completely, collecting descriptors into `fds`.
fn recv_exact(
    socket: &UnixStream,
    buf: &mut [u8],
    fds: &mut Vec<OwnedFd>,
    truncated: &mut bool,
) -> Result<(), RecvError> {
    let mut filled = 0;
    while filled < buf.len() {
        let n = recvmsg(socket, &mut buf[filled..], fds, truncated)?;
        if n == 0 {
            return Err(RecvError::Closed);
        }
        filled += n;
    }
    Ok(())
}

/// Reads and discards `len` bytes (still collecting, and so closing, any
/// descriptors that come with them).
fn skip(
    socket: &UnixStream,
    mut len: usize,
    fds: &mut Vec<OwnedFd>,
    truncated: &mut bool,
) -> Result<(), RecvError> {
    let mut scratch = vec![0u8; 64 * 1024];
    while len > 0 {
        let chunk = len.min(scratch.len());
        recv_exact(socket, &mut scratch[..chunk], fds, truncated)?;
        len -= chunk;
        fds.clear();
    }
    Ok(())
}

/// One `recvmsg(2)`: returns the bytes read (0 at end of stream), appends
/// received descriptors to `fds` and sets `truncated` if some were lost.
fn recvmsg(
    socket: &UnixStream,
    buf: &mut [u8],
    fds: &mut Vec<OwnedFd>,
    truncated: &mut bool,
) -> Result<usize, RecvError> {
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    let fd_bytes = (MAX_FDS_PER_RECV * mem::size_of::<RawFd>()) as u32;
    // SAFETY: CMSG_SPACE only computes a size.
    let space = unsafe { libc::CMSG_SPACE(fd_bytes) } as usize;
    let mut control = vec![0u64; space.div_ceil(8)];
    // SAFETY: an all-zero msghdr is a valid, empty one.
    let mut msg: libc::msghdr = unsafe { mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = space;

    let n = loop {
        // MSG_CMSG_CLOEXEC keeps received descriptors out of child processes.
        // SAFETY: msg points at a live, writable buffer and control area.
        let n = unsafe { libc::recvmsg(socket.as_raw_fd(), &mut msg, libc::MSG_CMSG_CLOEXEC) };
        if n >= 0 {
            break n as usize;
        }
        let err = io::Error::last_os_error();
        match err.kind() {
            io::ErrorKind::Interrupted => continue,
            io::ErrorKind::ConnectionReset => return Err(RecvError::Closed),
            _ => return Err(RecvError::Io(err)),
        }
    };

    if msg.msg_flags & libc::MSG_CTRUNC != 0 {
        *truncated = true;
    }
    // SAFETY: the kernel filled `msg_controllen` bytes of `control` with well-formed cmsg headers; CMSG_FIRSTHDR/NXTHDR stay within them, and each SCM_RIGHTS payload holds `(cmsg_len - CMSG_LEN(0)) / 4` descriptors that this process now owns (read unaligned, as the data area carries no alignment guarantee).
    unsafe {
        let mut cmsg = libc::CMSG_FIRSTHDR(&msg);
        while !cmsg.is_null() {
            if (*cmsg).cmsg_level == libc::SOL_SOCKET && (*cmsg).cmsg_type == libc::SCM_RIGHTS {
                let data = libc::CMSG_DATA(cmsg).cast::<RawFd>();
                let len = (*cmsg).cmsg_len as usize - libc::CMSG_LEN(0) as usize;
                for i in 0..len / mem::size_of::<RawFd>() {
                    fds.push(OwnedFd::from_raw_fd(data.add(i).read_unaligned()));
                }
            }
            cmsg = libc::CMSG_NXTHDR(&msg, cmsg);
        }
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::os::fd::AsFd;

    const LIMITS: Limits = Limits {
        max_message_size: 4096,
        max_fds: 4,
    };

    fn eventfd() -> OwnedFd {
        // SAFETY: eventfd returns a new descriptor or -1.
        let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC) };
        assert!(fd >= 0);
        // SAFETY: fd is new and ours.
        unsafe { OwnedFd::from_raw_fd(fd) }
    }

    #[test]
    fn a_message_and_its_descriptors_arrive_together() {
        let (a, b) = UnixStream::pair().unwrap();
        let fd = eventfd();
        let header = Header::command(1, 2, 3);
        send(&a, &header, b"xyz", &[fd.as_fd().as_raw_fd()]).unwrap();
        let Received::Message(msg) = recv(&b, &LIMITS).unwrap() else {
            panic!("malformed")
        };
        assert_eq!(
            (msg.header, msg.payload.as_slice(), msg.fds.len()),
            (header, &b"xyz"[..], 1)
        );
    }

    #[test]
    fn a_size_below_the_header_is_reported_and_the_stream_stays_usable() {
        let (mut a, b) = UnixStream::pair().unwrap();
        let mut bad = Header::command(5, 4, 0);
        bad.size = 8;
        a.write_all(&bad.encode()).unwrap();
        send(&a, &Header::command(6, 4, 0), &[], &[]).unwrap();
        assert!(matches!(
            recv(&b, &LIMITS).unwrap(),
            Received::Malformed {
                errno: Errno::EINVAL,
                ..
            }
        ));
        let Received::Message(next) = recv(&b, &LIMITS).unwrap() else {
            panic!("malformed")
        };
        assert_eq!(next.header.id, 6);
    }

    #[test]
    fn an_oversized_message_is_skipped_and_reported() {
        let (a, b) = UnixStream::pair().unwrap();
        let writer = std::thread::spawn(move || {
            send(&a, &Header::command(1, 10, 10_000), &[7u8; 10_000], &[]).unwrap();
            send(&a, &Header::command(2, 10, 1), &[1], &[]).unwrap();
        });
        assert!(matches!(
            recv(&b, &LIMITS).unwrap(),
            Received::Malformed {
                errno: Errno::E2BIG,
                ..
            }
        ));
        let Received::Message(next) = recv(&b, &LIMITS).unwrap() else {
            panic!("malformed")
        };
        assert_eq!(next.header.id, 2);
        writer.join().unwrap();
    }

    #[test]
    fn too_many_descriptors_make_the_message_malformed() {
        let (a, b) = UnixStream::pair().unwrap();
        let fds: Vec<OwnedFd> = (0..5).map(|_| eventfd()).collect();
        let raw: Vec<RawFd> = fds.iter().map(|f| f.as_raw_fd()).collect();
        send(&a, &Header::command(1, 8, 0), &[], &raw).unwrap();
        assert!(matches!(
            recv(&b, &LIMITS).unwrap(),
            Received::Malformed {
                errno: Errno::EINVAL,
                ..
            }
        ));
    }

    #[test]
    fn a_connection_closed_mid_header_is_closed_not_a_message() {
        let (mut a, b) = UnixStream::pair().unwrap();
        a.write_all(&[1, 2, 3]).unwrap();
        drop(a);
        assert!(matches!(recv(&b, &LIMITS), Err(RecvError::Closed)));
    }
}
