//! Seeded, version-stable splits.
//!
//! Splits must never change under a dependency upgrade, so they use [`SplitMix64`]
//! (Steele, Lea, Flood 2014), written out here, rather than `rand`'s `StdRng`, whose
//! algorithm may change between releases.

/// The workspace's generator, defined in [`crate::rng`] (kept here for old paths).
pub use crate::rng::SplitMix64;

/// Indices of a two-way split, each sorted ascending.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Split {
    /// Training indices.
    pub train: Vec<usize>,
    /// Test indices.
    pub test: Vec<usize>,
}

/// The indices of each class, in item order: `out[k]` lists the items labelled `k`, for
/// `k` up to the largest label (classes without items get an empty list).
pub fn indices_by_class(labels: impl IntoIterator<Item = usize>) -> Vec<Vec<usize>> {
    let mut by_class: Vec<Vec<usize>> = Vec::new();
    for (i, y) in labels.into_iter().enumerate() {
        if y >= by_class.len() {
            by_class.resize(y + 1, Vec::new());
        }
        by_class[y].push(i);
    }
    by_class
}

/// A stratified split putting `n_test` items in the test part, classes in proportion.
///
/// Each class `k` of size `c_k` gets `floor(c_k * n_test / n)` test items, and the items
/// still missing go to the classes with the largest remainders (ties: lower class
/// first). Within each class, in class order, one [`SplitMix64`] seeded with `seed`
/// shuffles the class's indices and the first ones become test items.
///
/// # Panics
/// If `n_test > labels.len()` (a programming error, not user input).
pub fn stratified_split(labels: &[usize], n_test: usize, seed: u64) -> Split {
    let n = labels.len();
    assert!(n_test <= n, "n_test {n_test} exceeds {n} items");
    let mut by_class = indices_by_class(labels.iter().copied());
    let n_classes = by_class.len();
    let mut quota: Vec<usize> = by_class
        .iter()
        .map(|c| c.len() * n_test / n.max(1))
        .collect();
    let mut order: Vec<usize> = (0..n_classes).collect();
    // Largest remainder c_k * n_test mod n first; stable sort keeps lower classes first.
    order.sort_by_key(|&k| std::cmp::Reverse(by_class[k].len() * n_test % n.max(1)));
    let missing = n_test - quota.iter().sum::<usize>();
    for &k in order.iter().take(missing) {
        quota[k] += 1;
    }
    let mut rng = SplitMix64::new(seed);
    let (mut train, mut test) = (Vec::new(), Vec::new());
    for (k, members) in by_class.iter_mut().enumerate() {
        rng.shuffle(members);
        test.extend_from_slice(&members[..quota[k]]);
        train.extend_from_slice(&members[quota[k]..]);
    }
    train.sort_unstable();
    test.sort_unstable();
    Split { train, test }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitmix_matches_reference_values() {
        // Reference outputs for seed 1234567 from the public-domain C implementation
        // (Vigna, splitmix64.c).
        let mut r = SplitMix64::new(1234567);
        assert_eq!(r.next_u64(), 6457827717110365317);
        assert_eq!(r.next_u64(), 3203168211198807973);
        assert_eq!(r.next_u64(), 9817491932198370423);
    }

    #[test]
    fn shuffle_is_a_permutation_and_below_in_range() {
        let mut r = SplitMix64::new(3);
        let mut v: Vec<usize> = (0..100).collect();
        r.shuffle(&mut v);
        assert_ne!(v, (0..100).collect::<Vec<_>>());
        v.sort_unstable();
        assert_eq!(v, (0..100).collect::<Vec<_>>());
        assert!((0..1000).all(|_| r.below(7) < 7));
        assert!(
            (0..1000)
                .map(|_| r.next_f64())
                .all(|x| (0.0..1.0).contains(&x))
        );
    }

    #[test]
    fn stratified_split_is_proportional_disjoint_and_seeded() {
        // 3 classes of sizes 50, 30, 20; 10 test items -> quotas 5, 3, 2 exactly.
        let labels: Vec<usize> = (0..100)
            .map(|i| usize::from(i >= 50) + usize::from(i >= 80))
            .collect();
        let s = stratified_split(&labels, 10, 0);
        assert_eq!((s.train.len(), s.test.len()), (90, 10));
        let count = |k| s.test.iter().filter(|&&i| labels[i] == k).count();
        assert_eq!((count(0), count(1), count(2)), (5, 3, 2));
        let mut all: Vec<usize> = s.train.iter().chain(&s.test).copied().collect();
        all.sort_unstable();
        assert_eq!(all, (0..100).collect::<Vec<_>>());
        assert_eq!(s, stratified_split(&labels, 10, 0));
        assert_ne!(s.test, stratified_split(&labels, 10, 1).test);
    }

    #[test]
    fn remainders_go_to_largest_fractions() {
        // Sizes 4, 3, 3 with 5 test items: exact shares 2.0, 1.5, 1.5 -> floors 2, 1, 1,
        // one left over goes to class 1 (tie with class 2 broken by the lower class).
        let labels = [0, 0, 0, 0, 1, 1, 1, 2, 2, 2];
        let s = stratified_split(&labels, 5, 9);
        let count = |k| s.test.iter().filter(|&&i| labels[i] == k).count();
        assert_eq!((count(0), count(1), count(2)), (2, 2, 1));
    }
}
