//! `rsio-runas UID:GID[:GROUP,...] -- COMMAND [ARGS...]`: runs a command as
//! an unprivileged user (the guests have no su/setpriv with uid changes):
//! sets the supplementary groups, the gid, then the uid (which drops every
//! capability), and execs.

use std::ffi::CString;

fn die(msg: &str) -> ! {
    eprintln!("rsio-runas: {msg}");
    std::process::exit(127);
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 4 || args[2] != "--" {
        die("usage: rsio-runas UID:GID[:GROUP,...] -- COMMAND [ARGS...]");
    }
    let mut parts = args[1].split(':');
    let num = |s: Option<&str>| -> u32 {
        s.and_then(|v| v.parse().ok())
            .unwrap_or_else(|| die("bad UID:GID"))
    };
    let uid = num(parts.next());
    let gid = num(parts.next());
    let groups: Vec<libc::gid_t> = parts
        .next()
        .map(|g| {
            g.split(',')
                .map(|x| x.parse().unwrap_or_else(|_| die("bad group list")))
                .collect()
        })
        .unwrap_or_default();
    let argv: Vec<CString> = args[3..]
        .iter()
        .map(|a| CString::new(a.as_str()).unwrap_or_else(|_| die("NUL in an argument")))
        .collect();
    let mut ptrs: Vec<*const libc::c_char> = argv.iter().map(|a| a.as_ptr()).collect();
    ptrs.push(std::ptr::null());
    // SAFETY: `groups` is a live array of `groups.len()` gids.
    if unsafe { libc::setgroups(groups.len(), groups.as_ptr()) } != 0 {
        die(&format!("setgroups: {}", std::io::Error::last_os_error()));
    }
    // SAFETY: Plain syscall with an integer argument.
    if unsafe { libc::setgid(gid) } != 0 {
        die(&format!("setgid: {}", std::io::Error::last_os_error()));
    }
    // SAFETY: Plain syscall with an integer argument.
    if unsafe { libc::setuid(uid) } != 0 {
        die(&format!("setuid: {}", std::io::Error::last_os_error()));
    }
    // SAFETY: `ptrs` is a NULL-terminated array of pointers to live NUL-terminated strings (`argv`).
    unsafe { libc::execvp(ptrs[0], ptrs.as_ptr()) };
    die(&format!(
        "exec {}: {}",
        args[3],
        std::io::Error::last_os_error()
    ));
}
