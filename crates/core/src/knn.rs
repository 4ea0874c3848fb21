//! k-nearest-neighbour classification and regression on host features: plain or
//! distance-weighted votes, cosine or Euclidean neighbourhoods, deterministic ties.
//!
//! ```
//! use repro_core::knn::{Knn, Similarity, Vote};
//! let train = [0.0, 1.0, 0.1, 1.0, 1.0, 0.0, 1.0, 0.1];
//! let labels = [0, 0, 1, 1];
//! let knn = Knn { k: 3, similarity: Similarity::Cosine, vote: Vote::Uniform };
//! assert_eq!(knn.classify(&train, &labels, &[0.0, 2.0], 2, 2)?, vec![0]);
//! # Ok::<(), anyhow::Error>(())
//! ```

/// How neighbours are found.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Similarity {
    /// Cosine similarity (zero vectors have similarity 0 to everything).
    Cosine,
    /// Negative Euclidean distance.
    Euclidean,
}

/// How the `k` neighbours vote.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Vote {
    /// One vote each.
    Uniform,
    /// Weight `exp(similarity / temperature)` (the DINO / MAE weighted k-NN; use with
    /// [`Similarity::Cosine`]).
    Exp {
        /// Temperature, e.g. 0.07.
        temperature: f64,
    },
}

/// A k-NN rule.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Knn {
    /// Neighbours (all training points when there are fewer).
    pub k: usize,
    /// Neighbourhood.
    pub similarity: Similarity,
    /// Votes.
    pub vote: Vote,
}

impl Knn {
    /// Indices and similarities of the `k` nearest training rows to `query`, most similar
    /// first (lower index first on ties).
    fn neighbours(&self, train: &[f32], query: &[f32], d: usize) -> Vec<(usize, f64)> {
        let norm = |v: &[f32]| v.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>().sqrt();
        let qn = norm(query);
        let mut s: Vec<(usize, f64)> = train
            .chunks(d)
            .enumerate()
            .map(|(i, t)| {
                let sim = match self.similarity {
                    Similarity::Cosine => {
                        let dot: f64 = t
                            .iter()
                            .zip(query)
                            .map(|(a, b)| f64::from(*a) * f64::from(*b))
                            .sum();
                        let den = norm(t) * qn;
                        if den > 0.0 { dot / den } else { 0.0 }
                    }
                    Similarity::Euclidean => -t
                        .iter()
                        .zip(query)
                        .map(|(a, b)| (f64::from(*a) - f64::from(*b)).powi(2))
                        .sum::<f64>()
                        .sqrt(),
                };
                (i, sim)
            })
            .collect();
        s.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        s.truncate(self.k.max(1));
        s
    }

    fn weight(&self, sim: f64) -> f64 {
        match self.vote {
            Vote::Uniform => 1.0,
            Vote::Exp { temperature } => (sim / temperature).exp(),
        }
    }

    fn check(train: &[f32], n_labels: usize, test: &[f32], d: usize) -> anyhow::Result<()> {
        if d == 0 || !train.len().is_multiple_of(d) || !test.len().is_multiple_of(d) {
            anyhow::bail!(
                "k-NN: {} train and {} test values are not rows of {d}",
                train.len(),
                test.len()
            );
        }
        if train.len() / d != n_labels || n_labels == 0 {
            anyhow::bail!(
                "k-NN: {} training rows but {n_labels} labels",
                train.len() / d
            );
        }
        Ok(())
    }

    /// Predicted class of each test row (the class with the largest total vote; the
    /// smallest class id on ties).
    ///
    /// # Errors
    /// If the row counts do not match, or a label is not below `classes`.
    pub fn classify(
        &self,
        train: &[f32],
        labels: &[usize],
        test: &[f32],
        d: usize,
        classes: usize,
    ) -> anyhow::Result<Vec<usize>> {
        Self::check(train, labels.len(), test, d)?;
        if let Some(l) = labels.iter().find(|&&l| l >= classes) {
            anyhow::bail!("k-NN: label {l} is not below {classes} classes");
        }
        Ok(test
            .chunks(d)
            .map(|q| {
                let mut votes = vec![0.0; classes];
                for (i, sim) in self.neighbours(train, q, d) {
                    votes[labels[i]] += self.weight(sim);
                }
                let mut best = 0;
                for (c, v) in votes.iter().enumerate() {
                    if *v > votes[best] {
                        best = c;
                    }
                }
                best
            })
            .collect())
    }

    /// Vote-weighted mean target of the neighbours of each test row (regression).
    ///
    /// # Errors
    /// If the row counts do not match.
    pub fn regress(
        &self,
        train: &[f32],
        targets: &[f64],
        test: &[f32],
        d: usize,
    ) -> anyhow::Result<Vec<f64>> {
        Self::check(train, targets.len(), test, d)?;
        Ok(test
            .chunks(d)
            .map(|q| {
                let (mut num, mut den) = (0.0, 0.0);
                for (i, sim) in self.neighbours(train, q, d) {
                    let w = self.weight(sim);
                    num += w * targets[i];
                    den += w;
                }
                num / den
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_computed_votes() {
        // 1-D points 0, 1, 2, 10 with labels 0, 0, 1, 1; query 1.4: neighbours 1, 2, 0.
        let train = [0.0f32, 1.0, 2.0, 10.0];
        let labels = [0, 0, 1, 1];
        let mut knn = Knn {
            k: 3,
            similarity: Similarity::Euclidean,
            vote: Vote::Uniform,
        };
        assert_eq!(
            knn.classify(&train, &labels, &[1.4], 1, 2).unwrap(),
            vec![0]
        );
        // k = 2: one vote each for 0 and 1: the tie goes to class 0.
        knn.k = 2;
        assert_eq!(
            knn.classify(&train, &labels, &[1.5], 1, 2).unwrap(),
            vec![0]
        );
        // Regression: mean of the 2 nearest targets of 9 (10 and 2).
        let r = knn
            .regress(&train, &[0.0, 1.0, 2.0, 10.0], &[9.0], 1)
            .unwrap();
        assert_eq!(r, vec![6.0]);
        // k larger than the data uses all points.
        knn.k = 10;
        assert_eq!(
            knn.regress(&train, &[1.0, 1.0, 1.0, 5.0], &[0.0], 1)
                .unwrap(),
            vec![2.0]
        );
    }

    #[test]
    fn weighted_votes_can_overturn_the_majority() {
        // Two far class-1 neighbours against one very close class-0 neighbour (cosine).
        let train = [1.0f32, 0.0, 0.6, 0.8, 0.6, 0.8];
        let labels = [0, 1, 1];
        let q = [1.0f32, 0.05];
        let uniform = Knn {
            k: 3,
            similarity: Similarity::Cosine,
            vote: Vote::Uniform,
        };
        assert_eq!(
            uniform.classify(&train, &labels, &q, 2, 2).unwrap(),
            vec![1]
        );
        let weighted = Knn {
            vote: Vote::Exp { temperature: 0.07 },
            ..uniform
        };
        assert_eq!(
            weighted.classify(&train, &labels, &q, 2, 2).unwrap(),
            vec![0]
        );
    }

    #[test]
    fn bad_input_is_an_error() {
        let knn = Knn {
            k: 1,
            similarity: Similarity::Cosine,
            vote: Vote::Uniform,
        };
        assert!(knn.classify(&[1.0, 2.0], &[0], &[1.0], 2, 2).is_err());
        assert!(
            knn.classify(&[1.0, 2.0], &[3], &[1.0, 2.0], 2, 2)
                .unwrap_err()
                .to_string()
                .contains("label 3")
        );
    }
}
