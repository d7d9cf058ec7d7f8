//! Giving freed heap memory back to the system after many connections close.
//!
//! glibc's allocator returns memory to the system only from the top of its
//! heap; when a crowd of connections closes, their freed buffers lie below
//! longer-lived allocations and the process keeps its peak RSS for good.
//! `malloc_trim(0)` releases every whole free page wherever it lies. This
//! is one of the few places natsd uses `unsafe` (the others: `kill(2)` in
//! `control.rs`, `localtime_r(3)` in `auth/limits.rs`, `getifaddrs(3)` in
//! `interfaces.rs`).

/// Release free heap pages to the system (glibc); a no-op elsewhere.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
pub fn release_free_memory() {
    extern "C" {
        fn malloc_trim(pad: usize) -> std::ffi::c_int;
    }
    // SAFETY: malloc_trim takes no pointers and touches only the allocator's
    // own state, under the allocator's lock; glibc documents it as safe to
    // call at any time.
    unsafe {
        malloc_trim(0);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn release_free_memory() {}
