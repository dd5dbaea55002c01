//! A seeded, reproducible random sequence for tests that draw their cases
//! (random commits, mutated packets): the same seed draws the same cases on
//! every run and every machine, with no randomness crate.

/// xorshift64*. Seeded explicitly; [`Rng::seed`] gives the seed back for a
/// test's messages.
#[derive(Debug, Clone)]
pub struct Rng {
    state: u64,
    seed: u64,
}

impl Rng {
    /// # Panics
    /// On seed 0, which xorshift never leaves.
    pub fn new(seed: u64) -> Rng {
        assert_ne!(seed, 0, "xorshift64* needs a seed other than 0");
        Rng { state: seed, seed }
    }

    /// The seed this sequence started from.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    pub fn next_u64(&mut self) -> u64 {
        self.state ^= self.state >> 12;
        self.state ^= self.state << 25;
        self.state ^= self.state >> 27;
        self.state.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number in `0..n`.
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_seed_draws_the_same_sequence_every_time() {
        let draw = |seed| {
            let mut r = Rng::new(seed);
            (0..4).map(|_| r.next_u64()).collect::<Vec<_>>()
        };
        assert_eq!(draw(7), draw(7));
        assert_ne!(draw(7), draw(8));
        // The first xorshift64* output of seed 1.
        assert_eq!(Rng::new(1).next_u64(), 0x47e4_ce4b_896c_dd1d);
        let mut r = Rng::new(0x5eed);
        assert!((0..1000).all(|_| r.below(6) < 6));
        assert_eq!(r.seed(), 0x5eed);
    }

    #[test]
    #[should_panic(expected = "other than 0")]
    fn seed_zero_is_refused() {
        Rng::new(0);
    }
}
