//! Splitting one scan across a fleet: [`Shard`] `K/N` takes the K-th of N stable parts of the
//! work (files by name, blobs by path, images by reference), so that N jobs with `1/N` … `N/N`
//! cover everything exactly once; [`merge`](super::merge()) joins their reports.

use std::fmt;
use std::str::FromStr;

/// The K-th (from 1) of N parts of a scan.
///
/// A key belongs to shard `K/N` when the first 8 bytes of its BLAKE3 hash, read as a
/// little-endian `u64`, are `K-1` modulo N: the partition depends on the key alone, so every
/// job of a split agrees on it whatever machine, thread count or order it runs in.
///
/// ```
/// use capstan::scan::Shard;
///
/// let shards: Vec<Shard> = ["1/3", "2/3", "3/3"].iter().map(|s| s.parse()).collect::<Result<_, _>>()?;
/// for key in ["src/main.rs", "README.md", ".env"] {
///     assert_eq!(shards.iter().filter(|s| s.contains(key)).count(), 1);
/// }
/// assert!("0/3".parse::<Shard>().is_err());
/// assert!("4/3".parse::<Shard>().is_err());
/// # Ok::<(), capstan::scan::ShardError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Shard {
    index: u32,
    count: u32,
}

impl Shard {
    /// Shard `index` of `count` (1 ≤ `index` ≤ `count`).
    pub fn new(index: u32, count: u32) -> Result<Self, ShardError> {
        let given = || format!("{index}/{count}");
        if count == 0 {
            return Err(ShardError::new(
                given(),
                "the number of shards must be at least 1",
            ));
        }
        if index == 0 {
            return Err(ShardError::new(
                given(),
                format!("shards are numbered from 1: use 1/{count} to {count}/{count}"),
            ));
        }
        if index > count {
            return Err(ShardError::new(
                given(),
                format!(
                    "there {} only {count} shard{}: use 1/{count} to {count}/{count}",
                    if count == 1 { "is" } else { "are" },
                    if count == 1 { "" } else { "s" }
                ),
            ));
        }
        Ok(Shard { index, count })
    }

    /// K, from 1.
    pub fn index(&self) -> u32 {
        self.index
    }

    /// N, the number of shards.
    pub fn count(&self) -> u32 {
        self.count
    }

    /// Whether `key` (a file's name as shown, a blob's path, an image as given) is this
    /// shard's.
    pub fn contains(&self, key: &str) -> bool {
        let hash = blake3::hash(key.as_bytes());
        let mut first = [0u8; 8];
        first.copy_from_slice(&hash.as_bytes()[..8]);
        u64::from_le_bytes(first) % u64::from(self.count) == u64::from(self.index - 1)
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl FromStr for Shard {
    type Err = ShardError;

    /// `K/N`, e.g. `2/5` (spaces around the numbers are allowed).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let junk = || ShardError::new(s, "not a shard: write K/N, e.g. 2/5 for the 2nd of 5 parts");
        let (k, n) = s.split_once('/').ok_or_else(junk)?;
        let number = |t: &str| {
            let t = t.trim();
            if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
                return Err(junk());
            }
            t.parse::<u32>()
                .map_err(|_| ShardError::new(s, format!("{t} is too large (at most {})", u32::MAX)))
        };
        Shard::new(number(k)?, number(n)?).map_err(|e| ShardError {
            given: s.to_owned(),
            ..e
        })
    }
}

/// A shard that is not `K/N` with 1 ≤ K ≤ N: what was given and why it is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("shard {given:?}: {reason}")]
pub struct ShardError {
    given: String,
    reason: String,
}

impl ShardError {
    fn new(given: impl Into<String>, reason: impl Into<String>) -> Self {
        ShardError {
            given: given.into(),
            reason: reason.into(),
        }
    }

    /// The text that was given.
    pub fn given(&self) -> &str {
        &self.given
    }

    /// Why it is not a shard.
    pub fn reason(&self) -> &str {
        &self.reason
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn k_of_n_parses_and_everything_else_is_refused_with_a_reason() {
        assert_eq!("2/5".parse(), Shard::new(2, 5));
        assert_eq!(
            "1/1".parse::<Shard>().map(|s| s.to_string()),
            Ok("1/1".into())
        );
        assert_eq!(
            " 3 / 4 "
                .trim()
                .parse::<Shard>()
                .map(|s| (s.index(), s.count())),
            Ok((3, 4))
        );
        for (bad, why) in [
            ("0/3", "numbered from 1"),
            ("4/3", "only 3 shards"),
            ("2/1", "only 1 shard:"),
            ("1/0", "at least 1"),
            ("0/0", "at least 1"),
            ("", "not a shard"),
            ("3", "not a shard"),
            ("a/b", "not a shard"),
            ("1/3/5", "not a shard"),
            ("-1/3", "not a shard"),
            ("+1/3", "not a shard"),
            ("1.5/3", "not a shard"),
            ("/3", "not a shard"),
            ("1/99999999999", "too large"),
        ] {
            let e = bad.parse::<Shard>().err();
            assert!(
                e.as_ref()
                    .is_some_and(|e| e.to_string().contains(why) && e.given() == bad),
                "{bad:?}: {e:?}"
            );
        }
    }

    #[test]
    fn every_key_is_in_exactly_one_shard_and_the_parts_are_balanced() {
        for count in 1..=7u32 {
            let shards: Vec<Shard> = (1..=count)
                .filter_map(|k| Shard::new(k, count).ok())
                .collect();
            let mut sizes = vec![0usize; count as usize];
            for i in 0..7000 {
                let key = format!("src/module{i}/file.rs");
                let owners: Vec<usize> = (0..shards.len())
                    .filter(|&s| shards[s].contains(&key))
                    .collect();
                assert_eq!(owners.len(), 1, "{key} in {count} shards: {owners:?}");
                sizes[owners[0]] += 1;
            }
            let even = 7000 / count as usize;
            assert!(
                sizes
                    .iter()
                    .all(|&n| n > even * 8 / 10 && n < even * 12 / 10),
                "{count} shards: {sizes:?}"
            );
        }
    }

    #[test]
    fn the_partition_is_fixed_forever() {
        // Jobs of one split may run different capstan builds: the shard of a key must never
        // change. BLAKE3's first 8 bytes, little-endian, modulo N (K for N = 2 to 7).
        for (key, ks) in [
            ("src/main.rs", [2, 2, 2, 2, 2, 3]),
            ("README.md", [1, 3, 3, 4, 3, 5]),
            (".env", [1, 1, 3, 1, 1, 7]),
            ("-", [2, 3, 2, 5, 6, 1]),
        ] {
            for (n, k) in (2..=7u32).zip(ks) {
                for other in 1..=n {
                    let s = Shard::new(other, n);
                    assert_eq!(
                        s.map(|s| s.contains(key)),
                        Ok(other == k),
                        "{key} {other}/{n}"
                    );
                }
            }
        }
    }
}
