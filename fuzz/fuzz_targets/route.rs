#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| natsd_fuzz::route::check(data));
