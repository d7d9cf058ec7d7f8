#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| natsd_fuzz::leaf::check(data));
