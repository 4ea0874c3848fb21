//! Learned text labellers on Burn (our operationalisation; the paper coded by hand).
//!
//! - [`LinearTextClassifier`] (the primary model): softmax regression on hashed tf-idf
//!   rows ([`HashedTfidf`], 2^15 buckets), loss `CE + λ‖W‖²` (bias not penalised,
//!   λ = 1e-4), full-batch Adam (lr 1e-2, β (0.9, 0.999), ε 1e-8 set explicitly), 200
//!   epochs. Weights start from `U(−1/√d, 1/√d)` drawn on the host from the seed (PyTorch's
//!   `nn.Linear` distribution), so a seed fixes the run without Burn's global generator.
//! - [`FastTextClassifier`] (secondary, `full` profile): hashed unigram and bigram ids
//!   (2^18 buckets), `Embedding(2^18, 64)` with masked mean pooling, dropout 0.2,
//!   `Linear(64, C)`; Adam lr 5e-3, batch 32, at most 30 epochs, early stopping (patience
//!   5) on macro-F1 of a stratified 20 % validation split of the training data, keeping the
//!   best epoch. Embeddings start from `U(−1/64, 1/64)`, the output layer at zero (fastText's
//!   initialisation).
//!
//! Neither resamples or rebalances the training data (the NLBSE'24 rule).
//!
//! ```
//! use burn::tensor::Device;
//! use repro_llm_issues::classifier::{LinearTextConfig, train_linear};
//! use repro_llm_issues::label::Labeller;
//! use repro_llm_issues::text::Doc;
//! let docs: Vec<Doc> = ["crash error", "segfault crash", "add feature", "feature request"]
//!     .iter().map(|t| Doc::new(t, "")).collect();
//! let y = [0, 0, 1, 1];
//! let cfg = LinearTextConfig { n_buckets: 1 << 10, epochs: 50, ..LinearTextConfig::default() };
//! let clf = train_linear(&cfg, &docs, &y, &["bug".into(), "feature".into()], &Device::flex(), 0)?;
//! assert_eq!(clf.label_all(&docs), y);
//! # Ok::<(), repro_llm_issues::classifier::ClfError>(())
//! ```

use burn::module::{Module, Param};
use burn::nn::{Dropout, DropoutConfig, Embedding, Linear};
use burn::optim::GradientsParams;
use burn::tensor::activation::log_softmax;
use burn::tensor::{Device, Int, Tensor, TensorData};
use repro_core::rng::{stream, uniform_vec};
use repro_core::train::{
    BestTracker, EarlyStopping, Goal, TrainError, ensure_finite, minibatches, optim,
};
use serde::{Deserialize, Serialize};

use crate::eval::classification_report;
use crate::label::Labeller;
use crate::text::{Doc, HashedTfidf, bucket, features};

/// Bad classifier input or a diverged run.
#[derive(Debug, thiserror::Error)]
pub enum ClfError {
    /// Inputs that do not fit together.
    #[error("text classifier: {0}")]
    Input(String),
    /// Training diverged.
    #[error(transparent)]
    Diverged(#[from] TrainError),
}

/// Hyper-parameters of [`LinearTextClassifier`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LinearTextConfig {
    /// Hash buckets of the tf-idf features.
    pub n_buckets: usize,
    /// L2 penalty λ on the weights.
    pub lambda: f64,
    /// Adam learning rate.
    pub lr: f64,
    /// Full-batch epochs.
    pub epochs: usize,
}

impl Default for LinearTextConfig {
    /// 2^15 buckets, λ 1e-4, lr 1e-2, 200 epochs.
    fn default() -> Self {
        Self {
            n_buckets: 1 << 15,
            lambda: 1e-4,
            lr: 1e-2,
            epochs: 200,
        }
    }
}

/// Softmax regression: one `Linear(n_buckets, n_classes)`.
#[derive(Module, Debug)]
pub struct LinearTextClassifier {
    /// The layer (`weight` `[n_buckets, n_classes]`).
    pub linear: Linear,
}

impl LinearTextClassifier {
    /// Weights and biases from `U(−1/√d, 1/√d)` (stream `seed`, `"linear-init"`).
    pub fn init(d: usize, n_classes: usize, seed: u64, device: &Device) -> Self {
        let bound = 1.0 / (d.max(1) as f64).sqrt();
        let mut rng = stream(seed, "linear-init");
        let w = uniform_vec(&mut rng, d * n_classes, bound);
        let b = uniform_vec(&mut rng, n_classes, bound);
        Self {
            linear: Linear {
                weight: Param::from_tensor(Tensor::from_data(
                    TensorData::new(w, [d, n_classes]),
                    device,
                )),
                bias: Some(Param::from_tensor(Tensor::from_data(
                    TensorData::new(b, [n_classes]),
                    device,
                ))),
            },
        }
    }

    /// Logits.
    ///
    /// # Shapes
    /// - x: `[n, n_buckets]`
    /// - output: `[n, n_classes]`
    pub fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        self.linear.forward(x)
    }

    /// `mean CE + λ ‖W‖²`.
    ///
    /// # Shapes
    /// - x: `[n, n_buckets]`, y: `[n]`
    /// - output: `[1]`
    pub fn loss(&self, x: Tensor<2>, y: Tensor<1, Int>, lambda: f64) -> Tensor<1> {
        let n = y.dims()[0];
        let logp = log_softmax(self.forward(x), 1); // [n, C]
        let picked = logp.gather(1, y.reshape([n, 1])); // [n, 1]
        let ce = picked.sum().neg() / n as f64;
        let w = self.linear.weight.val();
        ce + w.clone().mul(w).sum() * lambda
    }
}

fn check_labels(docs: usize, y: &[usize], classes: &[String]) -> Result<(), ClfError> {
    if docs == 0 {
        return Err(ClfError::Input("no training documents".into()));
    }
    if docs != y.len() {
        return Err(ClfError::Input(format!(
            "{docs} documents for {} labels",
            y.len()
        )));
    }
    if classes.len() < 2 {
        return Err(ClfError::Input(format!(
            "{} classes: need at least 2",
            classes.len()
        )));
    }
    if let Some((i, &l)) = y.iter().enumerate().find(|(_, l)| **l >= classes.len()) {
        return Err(ClfError::Input(format!(
            "label {l} of document {i} is not below {} classes",
            classes.len()
        )));
    }
    Ok(())
}

/// A trained linear classifier with its featuriser; predicts on the host.
#[derive(Debug, Clone)]
pub struct TrainedLinear {
    /// Class names.
    pub classes: Vec<String>,
    /// The fitted tf-idf.
    pub tfidf: HashedTfidf,
    /// Weights, row-major `[n_buckets, n_classes]`.
    pub weight: Vec<f32>,
    /// Biases.
    pub bias: Vec<f32>,
    /// Training loss per epoch.
    pub losses: Vec<f64>,
}

impl TrainedLinear {
    /// Logits of one document.
    pub fn logits(&self, doc: &Doc) -> Vec<f32> {
        let c = self.classes.len();
        let mut l = self.bias.clone();
        for (b, v) in self.tfidf.transform_sparse(doc) {
            let w = &self.weight[b as usize * c..(b as usize + 1) * c];
            l.iter_mut().zip(w).for_each(|(o, &w)| *o += v * w);
        }
        l
    }

    /// The `k` features with the largest weight for `class` (bucket names from training).
    pub fn top_features(&self, class: usize, k: usize) -> Vec<(String, f32)> {
        let c = self.classes.len();
        let mut v: Vec<(String, f32)> = self
            .tfidf
            .names
            .iter()
            .map(|(&b, name)| (name.clone(), self.weight[b as usize * c + class]))
            .collect();
        v.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        v.truncate(k);
        v
    }
}

/// First maximum of a score vector.
pub fn argmax(s: &[f32]) -> usize {
    s.iter()
        .enumerate()
        .fold((0, f32::NEG_INFINITY), |best, (i, &v)| {
            if v > best.1 { (i, v) } else { best }
        })
        .0
}

impl Labeller for TrainedLinear {
    fn classes(&self) -> &[String] {
        &self.classes
    }
    fn scores(&self, doc: &Doc) -> Vec<f32> {
        self.logits(doc)
    }
    fn label(&self, doc: &Doc) -> usize {
        argmax(&self.logits(doc))
    }
}

/// Trains [`LinearTextClassifier`] on `docs` with labels `y` (see the module docs).
pub fn train_linear(
    cfg: &LinearTextConfig,
    docs: &[Doc],
    y: &[usize],
    classes: &[String],
    device: &Device,
    seed: u64,
) -> Result<TrainedLinear, ClfError> {
    check_labels(docs.len(), y, classes)?;
    let tfidf = HashedTfidf::fit(docs, cfg.n_buckets);
    let (n, d, c) = (docs.len(), tfidf.n_buckets, classes.len());
    let ad = device.clone().autodiff();
    let x = Tensor::<2>::from_data(TensorData::new(tfidf.transform_dense(docs), [n, d]), &ad);
    let yt = Tensor::<1, Int>::from_data(
        TensorData::new(y.iter().map(|&v| v as i64).collect::<Vec<_>>(), [n]),
        &ad,
    );
    let mut model = LinearTextClassifier::init(d, c, seed, &ad);
    let mut opt = optim::adam(0.0).init();
    let mut losses = Vec::with_capacity(cfg.epochs);
    for epoch in 0..cfg.epochs {
        let loss = model.loss(x.clone(), yt.clone(), cfg.lambda);
        losses.push(ensure_finite(
            "linear text loss",
            epoch,
            loss.clone().into_scalar::<f64>(),
        )?);
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        model = opt.step(cfg.lr, model, grads);
    }
    let host = |t: Tensor<2>| t.into_data().try_to_vec::<f32>().unwrap_or_default();
    let weight = host(model.linear.weight.val());
    let bias = model
        .linear
        .bias
        .as_ref()
        .map(|b| b.val().into_data().try_to_vec::<f32>().unwrap_or_default())
        .unwrap_or_else(|| vec![0.0; c]);
    Ok(TrainedLinear {
        classes: classes.to_vec(),
        tfidf,
        weight,
        bias,
        losses,
    })
}

/// Stratified `k`-fold assignment: each class's items shuffled (stream `seed`, `"cv"`) and
/// dealt round-robin to the folds.
pub fn stratified_folds(y: &[usize], k: usize, seed: u64) -> Vec<usize> {
    let mut fold = vec![0usize; y.len()];
    let mut rng = stream(seed, "cv");
    let n_classes = y.iter().copied().max().map_or(0, |m| m + 1);
    for c in 0..n_classes {
        let mut idx: Vec<usize> = (0..y.len()).filter(|&i| y[i] == c).collect();
        rng.shuffle(&mut idx);
        for (j, i) in idx.into_iter().enumerate() {
            fold[i] = j % k.max(1);
        }
    }
    fold
}

/// A cross-validation grid: the λ values, the folds and the seed of folds and runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CvGrid {
    /// λ values, in order.
    pub lambdas: Vec<f64>,
    /// Folds.
    pub folds: usize,
    /// Seed of the fold assignment and of every run.
    pub seed: u64,
}

/// Mean macro-F1 of stratified `k`-fold cross-validation for each λ of `grid` (the same
/// folds for every λ), as `(λ, mean macro-F1)`.
pub fn cross_validate_lambda(
    cfg: &LinearTextConfig,
    docs: &[Doc],
    y: &[usize],
    classes: &[String],
    grid: &CvGrid,
    device: &Device,
) -> Result<Vec<(f64, f64)>, ClfError> {
    check_labels(docs.len(), y, classes)?;
    let (k, seed) = (grid.folds.max(2), grid.seed);
    let folds = stratified_folds(y, k, seed);
    let mut out = Vec::new();
    for &lambda in &grid.lambdas {
        let c = LinearTextConfig {
            lambda,
            ..cfg.clone()
        };
        let mut total = 0.0;
        for f in 0..k {
            let (tr, te): (Vec<usize>, Vec<usize>) = (0..docs.len()).partition(|&i| folds[i] != f);
            let pick = |ix: &[usize]| ix.iter().map(|&i| docs[i].clone()).collect::<Vec<_>>();
            let ytr: Vec<usize> = tr.iter().map(|&i| y[i]).collect();
            let yte: Vec<usize> = te.iter().map(|&i| y[i]).collect();
            let m = train_linear(&c, &pick(&tr), &ytr, classes, device, seed)?;
            let pred = m.label_all(&pick(&te));
            total += classification_report(&yte, &pred, classes.len())
                .map_err(|e| ClfError::Input(e.to_string()))?
                .macro_f1;
        }
        out.push((lambda, total / k as f64));
    }
    Ok(out)
}

/// Hyper-parameters of [`FastTextClassifier`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FastTextConfig {
    /// Hash buckets of the n-gram ids.
    pub n_buckets: usize,
    /// Embedding width.
    pub dim: usize,
    /// Dropout on the pooled vector.
    pub dropout: f64,
    /// Adam learning rate.
    pub lr: f64,
    /// Minibatch size.
    pub batch_size: usize,
    /// Maximum epochs.
    pub max_epochs: usize,
    /// Epochs without a better validation macro-F1 before stopping.
    pub patience: usize,
    /// Share of the training data held out for early stopping (stratified).
    pub val_frac: f64,
    /// Ids kept per document (the first ones).
    pub max_ids: usize,
}

impl Default for FastTextConfig {
    /// 2^18 buckets, dim 64, dropout 0.2, lr 5e-3, batch 32, ≤ 30 epochs, patience 5, 20 %
    /// validation, 2 000 ids per document.
    fn default() -> Self {
        Self {
            n_buckets: 1 << 18,
            dim: 64,
            dropout: 0.2,
            lr: 5e-3,
            batch_size: 32,
            max_epochs: 30,
            patience: 5,
            val_frac: 0.2,
            max_ids: 2000,
        }
    }
}

/// Embedding bag → dropout → linear.
#[derive(Module, Debug)]
pub struct FastTextClassifier {
    /// `[n_buckets, dim]`.
    pub embedding: Embedding,
    /// Dropout on the pooled vector.
    pub dropout: Dropout,
    /// `[dim, n_classes]`.
    pub linear: Linear,
}

impl FastTextClassifier {
    /// Embeddings `U(−1/dim, 1/dim)` (stream `seed`, `"fasttext-init"`), output zero.
    pub fn init(cfg: &FastTextConfig, n_classes: usize, seed: u64, device: &Device) -> Self {
        let mut rng = stream(seed, "fasttext-init");
        let e = uniform_vec(&mut rng, cfg.n_buckets * cfg.dim, 1.0 / cfg.dim as f64);
        Self {
            embedding: Embedding {
                weight: Param::from_tensor(Tensor::from_data(
                    TensorData::new(e, [cfg.n_buckets, cfg.dim]),
                    device,
                )),
            },
            dropout: DropoutConfig::new(cfg.dropout).init(),
            linear: Linear {
                weight: Param::from_tensor(Tensor::zeros([cfg.dim, n_classes], device)),
                bias: Some(Param::from_tensor(Tensor::zeros([n_classes], device))),
            },
        }
    }

    /// Logits.
    ///
    /// # Shapes
    /// - ids: `[b, l]` (padding anywhere, masked out)
    /// - mask: `[b, l]` (1 for a real id, 0 for padding)
    /// - output: `[b, n_classes]`
    pub fn forward(&self, ids: Tensor<2, Int>, mask: Tensor<2>) -> Tensor<2> {
        let e = self.embedding.forward(ids); // [b, l, dim]
        let count = mask.clone().sum_dim(1).clamp_min(1.0); // [b, 1]
        let pooled = (e * mask.unsqueeze_dim::<3>(2))
            .sum_dim(1)
            .squeeze_dim::<2>(1)
            / count; // [b, dim]
        self.linear.forward(self.dropout.forward(pooled))
    }
}

/// Hashed n-gram ids of a document (the tf-idf features, hashed to `n_buckets`).
pub fn doc_ids(doc: &Doc, n_buckets: usize, max_ids: usize) -> Vec<u32> {
    features(doc)
        .into_iter()
        .take(max_ids.max(1))
        .map(|f| bucket(&f, n_buckets))
        .collect()
}

fn batch_tensors(ids: &[&Vec<u32>], device: &Device) -> (Tensor<2, Int>, Tensor<2>) {
    let l = ids.iter().map(|v| v.len()).max().unwrap_or(0).max(1);
    let b = ids.len();
    let mut flat = vec![0i64; b * l];
    let mut mask = vec![0f32; b * l];
    for (i, v) in ids.iter().enumerate() {
        for (j, &id) in v.iter().enumerate() {
            flat[i * l + j] = i64::from(id);
            mask[i * l + j] = 1.0;
        }
    }
    (
        Tensor::from_data(TensorData::new(flat, [b, l]), device),
        Tensor::from_data(TensorData::new(mask, [b, l]), device),
    )
}

/// A trained fastText-style classifier (on the plain device).
#[derive(Debug)]
pub struct TrainedFastText {
    /// Class names.
    pub classes: Vec<String>,
    /// Configuration.
    pub cfg: FastTextConfig,
    /// The model.
    pub model: FastTextClassifier,
    /// Epoch of the kept weights (0-based) and its validation macro-F1.
    pub best: (usize, f64),
    /// Epochs run.
    pub epochs_run: usize,
}

impl TrainedFastText {
    /// Predicted classes, in batches of 64.
    pub fn predict(&self, docs: &[Doc]) -> Vec<usize> {
        predict_fasttext(&self.model, &self.cfg, docs)
    }
}

fn predict_fasttext(model: &FastTextClassifier, cfg: &FastTextConfig, docs: &[Doc]) -> Vec<usize> {
    let Some(device) = model.devices().into_iter().next() else {
        return Vec::new();
    };
    let ids: Vec<Vec<u32>> = docs
        .iter()
        .map(|d| doc_ids(d, cfg.n_buckets, cfg.max_ids))
        .collect();
    let mut out = Vec::with_capacity(docs.len());
    for chunk in ids.chunks(64) {
        let refs: Vec<&Vec<u32>> = chunk.iter().collect();
        let (i, m) = batch_tensors(&refs, &device);
        out.extend(repro_core::metrics::argmax_rows(model.forward(i, m)));
    }
    out
}

/// Trains [`FastTextClassifier`] (see the module docs). Seeds Burn's generator for dropout
/// with `seed` (run it on one thread at a time).
pub fn train_fasttext(
    cfg: &FastTextConfig,
    docs: &[Doc],
    y: &[usize],
    classes: &[String],
    device: &Device,
    seed: u64,
) -> Result<TrainedFastText, ClfError> {
    check_labels(docs.len(), y, classes)?;
    let n_val = ((docs.len() as f64) * cfg.val_frac).round() as usize;
    if n_val == 0 || n_val >= docs.len() {
        return Err(ClfError::Input(format!(
            "a validation share of {} leaves no training or no validation documents out of {}",
            cfg.val_frac,
            docs.len()
        )));
    }
    let split = repro_core::data::split::stratified_split(y, n_val, seed);
    let ad = device.clone().autodiff();
    repro_core::device::seed(&ad, seed);
    let ids: Vec<Vec<u32>> = docs
        .iter()
        .map(|d| doc_ids(d, cfg.n_buckets, cfg.max_ids))
        .collect();
    let val_docs: Vec<Doc> = split.test.iter().map(|&i| docs[i].clone()).collect();
    let val_y: Vec<usize> = split.test.iter().map(|&i| y[i]).collect();
    let mut model = FastTextClassifier::init(cfg, classes.len(), seed, &ad);
    let mut opt = optim::adam(0.0).init();
    let mut best = BestTracker::new(Goal::Maximize);
    let mut stop = EarlyStopping::new(Goal::Maximize, cfg.patience, 0.0);
    let mut epochs_run = 0;
    let mut step = 0;
    for epoch in 0..cfg.max_epochs {
        epochs_run += 1;
        for b in minibatches(
            split.train.len(),
            cfg.batch_size.max(1),
            seed.wrapping_mul(1_000_003) + epoch as u64,
        ) {
            let rows: Vec<usize> = b.iter().map(|&j| split.train[j]).collect();
            let refs: Vec<&Vec<u32>> = rows.iter().map(|&i| &ids[i]).collect();
            let (it, mt) = batch_tensors(&refs, &ad);
            let yb = Tensor::<1, Int>::from_data(
                TensorData::new(
                    rows.iter().map(|&i| y[i] as i64).collect::<Vec<_>>(),
                    [rows.len()],
                ),
                &ad,
            );
            let logp = log_softmax(model.forward(it, mt), 1);
            let loss = logp.gather(1, yb.reshape([rows.len(), 1])).sum().neg() / rows.len() as f64;
            ensure_finite("fastText loss", step, loss.clone().into_scalar::<f64>())?;
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            model = opt.step(cfg.lr, model, grads);
            step += 1;
        }
        let eval = model.valid();
        let pred = predict_fasttext(&eval, cfg, &val_docs);
        let f1 = classification_report(&val_y, &pred, classes.len())
            .map_err(|e| ClfError::Input(e.to_string()))?
            .macro_f1;
        best.offer(epoch, f1, || eval.clone());
        if stop.should_stop(f1) {
            break;
        }
    }
    let (e, f1, model) = best
        .into_best()
        .ok_or_else(|| ClfError::Input("no epoch ran (max_epochs = 0)".into()))?;
    Ok(TrainedFastText {
        classes: classes.to_vec(),
        cfg: cfg.clone(),
        model,
        best: (e, f1),
        epochs_run,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Host f64 loss of softmax regression: mean CE + λ Σ W².
    fn host_loss(
        w: &[f64],
        b: &[f64],
        x: &[f32],
        y: &[usize],
        d: usize,
        c: usize,
        lambda: f64,
    ) -> f64 {
        let n = y.len();
        let mut ce = 0.0;
        for i in 0..n {
            let logits: Vec<f64> = (0..c)
                .map(|k| {
                    b[k] + (0..d)
                        .map(|j| f64::from(x[i * d + j]) * w[j * c + k])
                        .sum::<f64>()
                })
                .collect();
            let m = logits.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let lse = m + logits.iter().map(|l| (l - m).exp()).sum::<f64>().ln();
            ce += lse - logits[y[i]];
        }
        ce / n as f64 + lambda * w.iter().map(|v| v * v).sum::<f64>()
    }

    #[test]
    fn gradient_matches_central_differences() {
        let _rng = repro_core::device::seed_lock(); // Burn's generator is process-wide
        let (n, d, c) = (6, 5, 3);
        let device = Device::flex().autodiff();
        let mut rng = stream(9, "grad-test");
        let x: Vec<f32> = (0..n * d).map(|_| rng.next_f64() as f32).collect();
        let y = [0, 1, 2, 1, 0, 2];
        let lambda = 0.05;
        let model = LinearTextClassifier::init(d, c, 3, &device);
        let xt = Tensor::<2>::from_data(TensorData::new(x.clone(), [n, d]), &device);
        let yt = Tensor::<1, Int>::from_data(
            TensorData::new(y.map(|v| v as i64).to_vec(), [n]),
            &device,
        );
        let loss = model.loss(xt, yt, lambda);
        let grads = loss.backward();
        let gw: Vec<f32> = model
            .linear
            .weight
            .val()
            .grad(&grads)
            .unwrap()
            .into_data()
            .try_to_vec()
            .unwrap();
        let w: Vec<f64> = model
            .linear
            .weight
            .val()
            .into_data()
            .try_to_vec::<f32>()
            .unwrap()
            .iter()
            .map(|&v| f64::from(v))
            .collect();
        let b: Vec<f64> = model
            .linear
            .bias
            .as_ref()
            .unwrap()
            .val()
            .into_data()
            .try_to_vec::<f32>()
            .unwrap()
            .iter()
            .map(|&v| f64::from(v))
            .collect();
        // Autodiff loss equals the host loss (f32 vs f64).
        let l0 = host_loss(&w, &b, &x, &y, d, c, lambda);
        assert!((f64::from(loss.into_scalar::<f32>()) - l0).abs() < 1e-5);
        let h = 1e-4;
        for (k, &g) in gw.iter().enumerate() {
            let mut wp = w.clone();
            wp[k] += h;
            let mut wm = w.clone();
            wm[k] -= h;
            let fd = (host_loss(&wp, &b, &x, &y, d, c, lambda)
                - host_loss(&wm, &b, &x, &y, d, c, lambda))
                / (2.0 * h);
            // rel 1e-2 (spec); an absolute floor for near-zero entries.
            assert!(
                (f64::from(g) - fd).abs() <= 1e-2 * fd.abs() + 1e-5,
                "w[{k}]: {g} vs {fd}"
            );
        }
    }

    fn toy() -> (Vec<Doc>, Vec<usize>, Vec<String>) {
        let texts = [
            ("app crashes", "segfault on start", 0),
            ("crash when saving", "traceback shown", 0),
            ("error on load", "it fails", 0),
            ("broken build", "compiler error", 0),
            ("add dark mode", "please add", 1),
            ("support vulkan", "new backend", 1),
            ("feature: export", "csv export", 1),
            ("allow plugins", "extension api", 1),
            ("how do I install", "on windows", 2),
            ("where is the config", "cannot find it", 2),
            ("what does flag x do", "unclear", 2),
            ("is there a tutorial", "for beginners", 2),
        ];
        let docs = texts.iter().map(|(t, b, _)| Doc::new(t, b)).collect();
        let y = texts.iter().map(|t| t.2).collect();
        (
            docs,
            y,
            vec!["bug".into(), "feature".into(), "question".into()],
        )
    }

    #[test]
    fn learns_a_separable_toy_to_full_train_accuracy() {
        let _rng = repro_core::device::seed_lock(); // Burn's generator is process-wide
        let (docs, y, classes) = toy();
        let m = train_linear(
            &LinearTextConfig::default(),
            &docs,
            &y,
            &classes,
            &Device::flex(),
            0,
        )
        .unwrap();
        assert_eq!(m.label_all(&docs), y);
        assert!(
            m.losses.last().unwrap() < &(0.5 * m.losses[0]),
            "{:?}",
            &m.losses[..3]
        );
        let top = m.top_features(0, 3);
        assert_eq!(top.len(), 3);
        assert!(top[0].1 >= top[2].1);
        assert!(
            train_linear(
                &LinearTextConfig::default(),
                &docs,
                &y[..3],
                &classes,
                &Device::flex(),
                0
            )
            .is_err()
        );
        assert!(
            train_linear(
                &LinearTextConfig::default(),
                &docs[..1],
                &[5],
                &classes,
                &Device::flex(),
                0
            )
            .is_err()
        );
    }

    #[test]
    fn folds_are_stratified() {
        let y: Vec<usize> = (0..30).map(|i| i % 3).collect();
        let f = stratified_folds(&y, 5, 0);
        for fold in 0..5 {
            for c in 0..3 {
                assert_eq!((0..30).filter(|&i| f[i] == fold && y[i] == c).count(), 2);
            }
        }
    }

    #[test]
    fn fasttext_learns_the_toy() {
        let _g = repro_core::device::seed_lock();
        let (docs, y, classes) = toy();
        // Twice the toy so the 20 % validation split keeps every class.
        let docs2: Vec<Doc> = docs.iter().chain(&docs).cloned().collect();
        let y2: Vec<usize> = y.iter().chain(&y).copied().collect();
        let cfg = FastTextConfig {
            n_buckets: 1 << 12,
            lr: 5e-2,
            max_epochs: 40,
            patience: 40,
            ..FastTextConfig::default()
        };
        let m = train_fasttext(&cfg, &docs2, &y2, &classes, &Device::flex(), 1).unwrap();
        let acc = m
            .predict(&docs)
            .iter()
            .zip(&y)
            .filter(|(a, b)| a == b)
            .count();
        assert!(acc >= 10, "{acc}/12 (best epoch {:?})", m.best);
    }
}
