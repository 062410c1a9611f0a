//! Test patterns: a seed names a reproducible sequence of 64-bit words, so
//! one node can write a pattern and another check it knowing only the seed,
//! and a word that lands at the wrong offset is caught (every word differs).

/// Word `index` of the pattern `seed` (splitmix64 of the seed and index).
pub fn word(seed: u64, index: u64) -> u64 {
    let mut z = seed
        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .wrapping_add(index.wrapping_add(1).wrapping_mul(0xBF58_476D_1CE4_E5B9));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Words `first..first + count` of pattern `seed`.
pub fn words(seed: u64, first: u64, count: usize) -> Vec<u64> {
    (0..count as u64).map(|i| word(seed, first + i)).collect()
}

/// Fills `bytes` (a multiple of 8 long) with pattern `seed`, little-endian.
pub fn fill(seed: u64, bytes: &mut [u8]) {
    for (i, chunk) in bytes.chunks_exact_mut(8).enumerate() {
        chunk.copy_from_slice(&word(seed, i as u64).to_le_bytes());
    }
}

/// Where data differs from the pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mismatch {
    /// Byte offset of the first wrong word.
    pub offset: u64,
    pub expected: u64,
    pub found: u64,
    /// How many words are wrong.
    pub wrong: u64,
}

/// Compares `data` (word `first` onwards) with pattern `seed`.
pub fn check_words(seed: u64, first: u64, data: &[u64]) -> Option<Mismatch> {
    let mut mismatch: Option<Mismatch> = None;
    for (i, &found) in data.iter().enumerate() {
        let expected = word(seed, first + i as u64);
        if found != expected {
            match &mut mismatch {
                Some(m) => m.wrong += 1,
                None => {
                    mismatch = Some(Mismatch {
                        offset: (first + i as u64) * 8,
                        expected,
                        found,
                        wrong: 1,
                    })
                }
            }
        }
    }
    mismatch
}

/// Compares `bytes` (a multiple of 8 long, little-endian) with pattern `seed`.
pub fn check(seed: u64, bytes: &[u8]) -> Option<Mismatch> {
    let words: Vec<u64> = bytes
        .chunks_exact(8)
        .map(|c| u64::from_le_bytes(c.try_into().unwrap_or_default()))
        .collect();
    check_words(seed, 0, &words)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_filled_buffer_checks_clean() {
        let mut bytes = vec![0u8; 4096];
        fill(7, &mut bytes);
        assert_eq!(check(7, &bytes), None);
        assert!(
            check(8, &bytes).is_some(),
            "another seed is another pattern"
        );
    }

    #[test]
    fn the_first_wrong_word_and_the_count_are_reported() {
        let mut bytes = vec![0u8; 64];
        fill(1, &mut bytes);
        bytes[17] ^= 0xFF;
        bytes[40..48].fill(0xFF);
        let m = check(1, &bytes).unwrap();
        assert_eq!((m.offset, m.wrong), (16, 2));
        assert_eq!(m.expected, word(1, 2));
        assert_ne!(m.found, m.expected);
    }

    #[test]
    fn shifted_data_does_not_check() {
        let words = words(3, 1, 8);
        assert!(check_words(3, 0, &words).is_some());
        assert_eq!(check_words(3, 1, &words), None);
    }

    #[test]
    fn zeroes_and_all_ones_are_never_a_pattern() {
        for seed in [0, 1, 0xA5] {
            assert!(check(seed, &[0u8; 256]).is_some());
            assert!(check(seed, &[0xFFu8; 256]).is_some());
        }
    }
}
