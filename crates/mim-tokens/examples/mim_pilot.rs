//! The timed pilot that sized the quick preset: 50+ pretraining steps of MAE and of PIX-16
//! at the quick shape on the real digits (batch 128), ms per step printed, and the time of
//! one evaluation (features, CLS / mean-pool / validation probes, k-NN) with the quick
//! probe settings. Run: `cargo run -p repro-mim-tokens --example mim_pilot [EPOCHS]`
//! (default: enough epochs for 50 steps; a larger value is the diagnostic of a longer
//! schedule, with the untrained encoder's scores printed for the gate).

use burn::tensor::Device;
use repro_mim_tokens::config::ExperimentConfig;
use repro_mim_tokens::tokenizer::{PixelKMeans, Tokenizer};
use repro_mim_tokens::train::{
    DigitsData, EvalSpec, PretrainSpec, evaluate, features, patches, pretrain, weighted_knn,
};

fn main() -> anyhow::Result<()> {
    let device = Device::flex();
    let mut cfg = ExperimentConfig::quick();
    let data = DigitsData::load(None, None)?;
    let steps_per_epoch = data.train.len().div_ceil(cfg.train.batch_size);
    cfg.train.epochs = match std::env::args().nth(1) {
        Some(e) => e.parse()?,
        None => 50usize.div_ceil(steps_per_epoch),
    };
    let x = data.normalize(&data.train.pixels);
    let xt = data.normalize(&data.test.pixels);
    let host = repro_core::host::to_vec(patches(&x, 8, 2, &device)?);
    let t0 = std::time::Instant::now();
    let pix = PixelKMeans::fit(&host, 4, 16, &cfg.kmeans, 0, false, &device)?;
    println!(
        "PIX-16 k-means ({} restarts): {:.2} s",
        cfg.kmeans.n_init,
        t0.elapsed().as_secs_f64()
    );
    let labels = data.train.labels_usize();
    let split = repro_core::data::split::stratified_split(&labels, cfg.val_size, 0);
    let ev = EvalSpec {
        probe: &cfg.probe,
        knn: weighted_knn(cfg.knn_k, cfg.knn_temperature),
        val: (&split.test, &split.train),
        seed: 0,
    };
    let untrained = repro_mim_tokens::train::init_model(
        &cfg.model,
        repro_mim_tokens::model::Head::Pixels,
        0,
        &device,
    )?;
    let (tr, te) = (
        features(&untrained, &cfg.model, &x, &device)?,
        features(&untrained, &cfg.model, &xt, &device)?,
    );
    println!(
        "RANDINIT: {:?}",
        evaluate(&tr, &te, &labels, &data.test.labels_usize(), &ev, &device)?
    );
    for (name, tk) in [("MAE", None), ("PIX-16", Some(&pix as &dyn Tokenizer))] {
        let spec = PretrainSpec {
            model: &cfg.model,
            train: &cfg.train,
            tokenizer: tk,
            seed: 0,
            progress: None,
        };
        let pre = pretrain(&data, &spec, &device, &mut |_| Ok(0.0))?;
        println!(
            "{name}: {} steps, {:.1} ms per step",
            pre.losses.len(),
            pre.ms_per_step
        );
        let t0 = std::time::Instant::now();
        let (tr, te) = (
            features(&pre.model, &cfg.model, &x, &device)?,
            features(&pre.model, &cfg.model, &xt, &device)?,
        );
        let sc = evaluate(&tr, &te, &labels, &data.test.labels_usize(), &ev, &device)?;
        println!(
            "{name}: evaluation {:.2} s ({} probe epochs): {sc:?}",
            t0.elapsed().as_secs_f64(),
            cfg.probe.epochs
        );
    }
    Ok(())
}
