//! The simulation's only source of chance: SplitMix64, seeded per seed and per purpose, so a
//! seed replays the same choices on any machine and in any build.

/// A SplitMix64 generator (Steele, Lea and Flood): tiny, fast, and good enough to pick faults.
#[derive(Clone, Debug)]
pub struct Rng {
    state: u64,
}

impl Rng {
    /// The stream `purpose` of `seed`: the driver and the provider draw from separate streams,
    /// so a change in how often one draws does not shift the other's choices.
    pub fn new(seed: u64, purpose: u64) -> Self {
        let mut rng = Rng {
            state: seed ^ purpose.wrapping_mul(0xA076_1D64_78BD_642F),
        };
        // Mixes the two inputs before the first value is used.
        rng.next_u64();
        rng
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            return 0;
        }
        // Multiply-shift: unbiased enough for bounds this small and never a division by zero.
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// A number in `low..=high`.
    pub fn between(&mut self, low: i64, high: i64) -> i64 {
        if high <= low {
            return low;
        }
        let span = high.abs_diff(low) + 1;
        low.wrapping_add(self.below(span) as i64)
    }

    /// True `percent` times in a hundred.
    pub fn percent(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    /// An index into a slice of `len` items (`None` when empty).
    pub fn index(&mut self, len: usize) -> Option<usize> {
        (len > 0).then(|| self.below(len as u64) as usize)
    }

    /// One of `choices` by weight.
    pub fn weighted<T: Copy>(&mut self, choices: &[(u64, T)]) -> Option<T> {
        let total: u64 = choices.iter().map(|(w, _)| w).sum();
        let mut pick = self.below(total);
        for (weight, choice) in choices {
            if pick < *weight {
                return Some(*choice);
            }
            pick -= weight;
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::Rng;

    #[test]
    fn a_seed_gives_the_same_stream_and_another_a_different_one() {
        let a: Vec<u64> = (0..4).map(|_| Rng::new(7, 1).next_u64()).collect();
        let mut one = Rng::new(7, 1);
        let mut two = Rng::new(7, 1);
        let mut other = Rng::new(8, 1);
        let first: Vec<u64> = (0..8).map(|_| one.next_u64()).collect();
        let again: Vec<u64> = (0..8).map(|_| two.next_u64()).collect();
        let different: Vec<u64> = (0..8).map(|_| other.next_u64()).collect();
        assert_eq!(first, again);
        assert_ne!(first, different);
        assert!(a.iter().all(|v| *v == a[0]));
        let mut bounded = Rng::new(1, 2);
        assert!((0..1000).all(|_| bounded.below(3) < 3));
        assert!((0..1000).all(|_| (5..=9).contains(&bounded.between(5, 9))));
    }
}
