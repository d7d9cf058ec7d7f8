//! The machine's interface addresses, for the `connect_urls` of a server
//! listening on every address (`0.0.0.0`, `::`), as nats-server lists
//! them. `getifaddrs(3)` has no safe wrapper in the crates natsd uses, so
//! this is one of the few places natsd uses `unsafe` (see `trim.rs`).

/// The addresses of the machine's interfaces (`getifaddrs`).
#[allow(unsafe_code)]
pub fn addresses() -> Vec<std::net::IpAddr> {
    let mut out = Vec::new();
    let mut head: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs fills `head` with a list we free below; each
    // entry's address is read only as the family it says it is.
    unsafe {
        if libc::getifaddrs(&mut head) != 0 {
            return out;
        }
        let mut entry = head;
        while !entry.is_null() {
            let addr = (*entry).ifa_addr;
            if !addr.is_null() {
                match i32::from((*addr).sa_family) {
                    libc::AF_INET => {
                        let sin = &*(addr as *const libc::sockaddr_in);
                        let ip = std::net::Ipv4Addr::from(u32::from_be(sin.sin_addr.s_addr));
                        out.push(ip.into());
                    }
                    libc::AF_INET6 => {
                        let sin6 = &*(addr as *const libc::sockaddr_in6);
                        out.push(std::net::Ipv6Addr::from(sin6.sin6_addr.s6_addr).into());
                    }
                    _ => {}
                }
            }
            entry = (*entry).ifa_next;
        }
        libc::freeifaddrs(head);
    }
    out
}
