//! Pseudo-random numbers for queue member choice, ping jitter and ids.

/// A small xorshift generator: picks queue members without a lock or a
/// system call.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// A number in `0..n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
}

/// A NUID-shaped name (22 letters and digits), as nats-server makes up
/// a cluster's name when none is given.
pub fn nuid(rng: &mut Rng) -> String {
    const DIGITS: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    (0..22)
        .map(|_| DIGITS[rng.below(DIGITS.len())] as char)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::Rng;

    #[test]
    fn rng_spreads_over_its_range() {
        let mut rng = Rng::new(42);
        let mut seen = [0u32; 3];
        for _ in 0..3000 {
            seen[rng.below(3)] += 1;
        }
        assert!(seen.iter().all(|&n| n > 800), "{seen:?}");
    }
}
