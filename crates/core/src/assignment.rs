//! Optimal one-to-one assignment (the Hungarian method, O(n² m)): match rows to columns so
//! the total cost is least, or the total weight greatest (MCC's matching of true factors to
//! learned dimensions).
//!
//! ```
//! use repro_core::assignment::{max_weight_matching, min_cost_assignment};
//! let cost = [4.0, 1.0, 3.0, 2.0, 0.0, 5.0, 3.0, 2.0, 2.0];
//! assert_eq!(min_cost_assignment(&cost, 3, 3)?, vec![1, 0, 2]); // 1 + 2 + 2 = 5
//! assert_eq!(max_weight_matching(&cost, 3, 3)?, vec![0, 2, 1]); // 4 + 5 + 2 = 11
//! # Ok::<(), anyhow::Error>(())
//! ```

/// For each row, the column it is assigned to, minimising the total cost of a row-major
/// `[rows, cols]` cost matrix with `rows ≤ cols` (every row gets a distinct column).
///
/// # Errors
/// If the matrix is not `rows × cols`, has more rows than columns, or a non-finite entry.
pub fn min_cost_assignment(cost: &[f64], rows: usize, cols: usize) -> anyhow::Result<Vec<usize>> {
    if cost.len() != rows * cols {
        anyhow::bail!(
            "assignment: {} entries are not a {rows} × {cols} matrix",
            cost.len()
        );
    }
    if rows > cols {
        anyhow::bail!("assignment: {rows} rows cannot each get one of {cols} columns");
    }
    if let Some(i) = cost.iter().position(|c| !c.is_finite()) {
        anyhow::bail!(
            "assignment: entry ({}, {}) is not finite",
            i / cols,
            i % cols
        );
    }
    // Potentials u (rows), v (columns); p[j] = row matched to column j (1-based, 0 = none).
    let (n, m) = (rows, cols);
    let a = |i: usize, j: usize| cost[(i - 1) * m + (j - 1)];
    let mut u = vec![0.0; n + 1];
    let mut v = vec![0.0; m + 1];
    let mut p = vec![0usize; m + 1];
    let mut way = vec![0usize; m + 1];
    for i in 1..=n {
        p[0] = i;
        let mut j0 = 0;
        let mut minv = vec![f64::INFINITY; m + 1];
        let mut used = vec![false; m + 1];
        loop {
            used[j0] = true;
            let i0 = p[j0];
            let mut delta = f64::INFINITY;
            let mut j1 = 0;
            for j in 1..=m {
                if !used[j] {
                    let cur = a(i0, j) - u[i0] - v[j];
                    if cur < minv[j] {
                        minv[j] = cur;
                        way[j] = j0;
                    }
                    if minv[j] < delta {
                        delta = minv[j];
                        j1 = j;
                    }
                }
            }
            for j in 0..=m {
                if used[j] {
                    u[p[j]] += delta;
                    v[j] -= delta;
                } else {
                    minv[j] -= delta;
                }
            }
            j0 = j1;
            if p[j0] == 0 {
                break;
            }
        }
        loop {
            let j1 = way[j0];
            p[j0] = p[j1];
            j0 = j1;
            if j0 == 0 {
                break;
            }
        }
    }
    let mut out = vec![0; n];
    for j in 1..=m {
        if p[j] != 0 {
            out[p[j] - 1] = j - 1;
        }
    }
    Ok(out)
}

/// For each row, the column it is assigned to, maximising the total weight.
///
/// # Errors
/// As [`min_cost_assignment`].
pub fn max_weight_matching(weight: &[f64], rows: usize, cols: usize) -> anyhow::Result<Vec<usize>> {
    let neg: Vec<f64> = weight.iter().map(|w| -w).collect();
    min_cost_assignment(&neg, rows, cols)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::SplitMix64;

    fn total(c: &[f64], cols: usize, a: &[usize]) -> f64 {
        a.iter().enumerate().map(|(i, &j)| c[i * cols + j]).sum()
    }

    /// Every injective assignment by brute force.
    fn brute(c: &[f64], rows: usize, cols: usize) -> f64 {
        fn go(c: &[f64], rows: usize, cols: usize, i: usize, used: &mut Vec<bool>) -> f64 {
            if i == rows {
                return 0.0;
            }
            let mut best = f64::INFINITY;
            for j in 0..cols {
                if !used[j] {
                    used[j] = true;
                    best = best.min(c[i * cols + j] + go(c, rows, cols, i + 1, used));
                    used[j] = false;
                }
            }
            best
        }
        go(c, rows, cols, 0, &mut vec![false; cols])
    }

    #[test]
    fn matches_brute_force_on_random_matrices() {
        let mut r = SplitMix64::new(5);
        for (rows, cols) in [(1, 1), (3, 3), (4, 6), (6, 6), (5, 7)] {
            for _ in 0..20 {
                let c: Vec<f64> = (0..rows * cols)
                    .map(|_| (r.next_f64() * 10.0).round())
                    .collect();
                let a = min_cost_assignment(&c, rows, cols).unwrap();
                let mut cols_used = a.clone();
                cols_used.sort_unstable();
                cols_used.dedup();
                assert_eq!(cols_used.len(), rows, "not one-to-one: {a:?}");
                assert!((total(&c, cols, &a) - brute(&c, rows, cols)).abs() < 1e-9);
            }
        }
    }

    #[test]
    fn bad_input_is_an_error() {
        assert!(
            min_cost_assignment(&[1.0, 2.0], 2, 1)
                .unwrap_err()
                .to_string()
                .contains("2 rows")
        );
        assert!(min_cost_assignment(&[1.0, 2.0, 3.0], 2, 2).is_err());
        assert!(
            min_cost_assignment(&[1.0, f64::NAN], 1, 2)
                .unwrap_err()
                .to_string()
                .contains("(0, 1)")
        );
    }
}
