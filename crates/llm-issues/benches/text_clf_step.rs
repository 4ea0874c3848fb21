//! One full-batch training step of the linear text classifier on hashed tf-idf features,
//! the unit E2 repeats 200 times per repository and seed: 300 documents × 2^15 buckets,
//! logits `[300, 3]`, cross-entropy + λ‖W‖² (λ 1e-4), backward, Adam (lr 1e-2, ε 1e-8).
//! Twin: `text_clf_step_torch.py` (the same shapes and optimiser; a dense random matrix in
//! place of the tf-idf rows, since dense kernels take the same time whatever the values).
//! Also timed, without a twin: fitting and applying the hashed tf-idf to the 300 documents.

use burn::optim::GradientsParams;
use burn::tensor::{Device, Int, Tensor, TensorData};
use repro_core::bench;
use repro_core::train::optim;
use repro_llm_issues::classifier::LinearTextClassifier;
use repro_llm_issues::synthetic::three_class_docs;
use repro_llm_issues::text::{Doc, HashedTfidf};

fn main() {
    let device = Device::flex().autodiff();
    let (docs, y): (Vec<Doc>, Vec<usize>) = three_class_docs(100, 0).into_iter().unzip();
    let (n, d) = (docs.len(), 1usize << 15);
    let tfidf_bench = bench::run("tfidf_fit_transform_n300", 2, 20, || {
        let t = HashedTfidf::fit(&docs, d);
        std::hint::black_box(t.transform_dense(&docs));
    });
    let tfidf = HashedTfidf::fit(&docs, d);
    let x = Tensor::<2>::from_data(
        TensorData::new(tfidf.transform_dense(&docs), [n, d]),
        &device,
    );
    let yt = Tensor::<1, Int>::from_data(
        TensorData::new(y.iter().map(|&v| v as i64).collect::<Vec<_>>(), [n]),
        &device,
    );
    let mut model = LinearTextClassifier::init(d, 3, 0, &device);
    let mut opt = optim::adam(0.0).init();
    let step = bench::run("linear_text_step_n300_b32768", 5, 50, || {
        let loss = model.loss(x.clone(), yt.clone(), 1e-4);
        let _ = loss.clone().into_scalar::<f32>();
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        model = opt.step(1e-2, model.clone(), grads);
    });
    bench::emit(&[step, tfidf_bench]);
}
