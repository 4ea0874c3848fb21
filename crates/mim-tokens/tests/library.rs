//! The spec's §7 tests of the library: patches and positions, masking, tokenizers (PIX on
//! an augmented batch against the host k-means, RAND bins, MIX uniformity, determinism),
//! the frozen FEAT encoder, probe features without masking randomness, bad input, and a
//! short learning run.

use burn::module::Module;
use burn::optim::GradientsParams;
use burn::tensor::{Device, Int, Tensor, TensorData};
use repro_core::device::seed_lock;
use repro_core::kmeans::KMeansConfig;
use repro_core::patch::{gather_rows, sincos_2d, unpatchify};
use repro_core::rng::SplitMix64;
use repro_mim_tokens::Error;
use repro_mim_tokens::config::{ExperimentConfig, TrainConfig};
use repro_mim_tokens::loss::masked_token_ce;
use repro_mim_tokens::model::{Head, MaeVitConfig};
use repro_mim_tokens::tokenizer::{
    Codebook, FeatureKMeans, KMeansSettings, Mix, PixelKMeans, RandProj, TokenBatch, Tokenizer,
    count_distinct,
};
use repro_mim_tokens::train::{
    DigitsData, PretrainSpec, init_model, keep_count, masking, patches, pretrain,
};

fn dev() -> Device {
    Device::flex()
}

fn ints(t: Tensor<2, Int>) -> Vec<i64> {
    repro_core::host::to_ints(t)
}

/// Normalised digits (the first `n` train images) and their patches on the host.
fn digits(n: usize) -> (DigitsData, Vec<f32>, Vec<f32>) {
    let data = DigitsData::load(Some(n), Some(64)).unwrap();
    let x = data.normalize(&data.train.pixels);
    let host = repro_core::host::to_vec(patches(&x, 8, 2, &dev()).unwrap());
    (data, x, host)
}

fn tiny_model() -> MaeVitConfig {
    MaeVitConfig {
        enc_depth: 1,
        dec_depth: 1,
        ..MaeVitConfig::default()
    }
}

#[test]
fn patches_cover_the_documented_pixels_and_invert() {
    let x: Vec<f32> = (0..64).map(|i| i as f32).collect();
    let p = patches(&x, 8, 2, &dev()).unwrap();
    assert_eq!(p.dims(), [1, 16, 4]);
    let v = repro_core::host::to_vec(p.clone());
    assert_eq!(v[5 * 4..6 * 4], [18.0, 19.0, 26.0, 27.0]);
    assert_eq!(repro_core::host::to_vec(unpatchify(p, 8, 2)), x);
}

/// facebookresearch/mae `get_2d_sincos_pos_embed(64, 4, cls_token=True)`, transcribed:
/// `grid = meshgrid(grid_w, grid_h)`, `emb_h = 1d(D/2, grid[0])`, `emb_w = 1d(D/2, grid[1])`,
/// `1d(d, pos) = [sin(pos ω), cos(pos ω)]`, `ω = 1 / 10000^(arange(d/2) / (d/2))`.
fn mae_reference(dim: usize, grid: usize) -> Vec<f64> {
    let one_d = |d: usize, pos: f64| -> Vec<f64> {
        let omega: Vec<f64> = (0..d / 2)
            .map(|i| 1.0 / 10000f64.powf(i as f64 / (d as f64 / 2.0)))
            .collect();
        let mut v: Vec<f64> = omega.iter().map(|w| (pos * w).sin()).collect();
        v.extend(omega.iter().map(|w| (pos * w).cos()));
        v
    };
    let mut out = vec![0.0; dim];
    for h in 0..grid {
        for w in 0..grid {
            // meshgrid(grid_w, grid_h)[0][h, w] = w, [1][h, w] = h
            out.extend(one_d(dim / 2, w as f64));
            out.extend(one_d(dim / 2, h as f64));
        }
    }
    out
}

#[test]
fn sincos_table_matches_mae() {
    let t = repro_core::host::to_vec(sincos_2d(4, 64, true, &dev()));
    let want = mae_reference(64, 4);
    assert_eq!(t.len(), want.len());
    for (a, b) in t.iter().zip(&want) {
        // f64 maths rounded to f32: half an ulp of values ≤ 1.
        assert!((f64::from(*a) - b).abs() < 1e-7, "{a} vs {b}");
    }
    assert!(t[..64].iter().all(|&v| v == 0.0), "CLS row is zero");
    let patch0 = &t[64..128];
    for half in 0..2 {
        let h = &patch0[half * 32..(half + 1) * 32];
        assert!(h[..16].iter().all(|&v| v == 0.0) && h[16..].iter().all(|&v| v == 1.0));
    }
}

#[test]
fn masking_keeps_exactly_four_and_unshuffles() {
    let d = dev();
    let mut rng = SplitMix64::new(9);
    let m = masking(8, 16, 0.75, &mut rng, &d).unwrap();
    assert_eq!(m.keep, 4);
    let mask = repro_core::host::to_vec(m.mask.clone());
    for r in mask.chunks(16) {
        assert_eq!(r.iter().sum::<f32>(), 12.0);
    }
    assert_ne!(mask[..16], mask[16..32], "masks differ across samples");
    // Gather by the shuffle, append the removed ones in shuffle order, unshuffle: the
    // patch order comes back.
    let x: Vec<f32> = (0..8 * 16).map(|i| i as f32).collect();
    let xt = Tensor::<3>::from_data(TensorData::new(x.clone(), [8, 16, 1]), &d);
    let restore = ints(m.ids_restore.clone());
    let mut shuffled = vec![0i64; 8 * 16];
    for s in 0..8 {
        for j in 0..16 {
            shuffled[s * 16 + restore[s * 16 + j] as usize] = j as i64;
        }
    }
    let shuffle = Tensor::<2, Int>::from_data(TensorData::new(shuffled.clone(), [8, 16]), &d);
    let kept = ints(m.ids_keep.clone());
    for s in 0..8 {
        assert_eq!(kept[s * 4..s * 4 + 4], shuffled[s * 16..s * 16 + 4]);
    }
    let back = gather_rows(gather_rows(xt, shuffle), m.ids_restore.clone());
    assert_eq!(repro_core::host::to_vec(back), x);
    let again = masking(8, 16, 0.75, &mut SplitMix64::new(9), &d).unwrap();
    assert_eq!(ints(again.ids_keep), kept, "deterministic per seed");
}

#[test]
fn integer_keep_counts_and_bad_ratios() {
    assert_eq!(keep_count(16, 0.75).unwrap(), 4);
    assert_eq!(keep_count(16, 0.5).unwrap(), 8);
    assert_eq!(keep_count(49, 0.75).unwrap(), 12);
    for r in [0.0, 1.0, 1.5, -0.1, f64::NAN, 0.99] {
        let e = keep_count(16, r).unwrap_err();
        assert!(matches!(e, Error::MaskRatio(_)), "{r}: {e}");
        assert!(e.to_string().contains("mask_ratio"), "{e}");
    }
    let mut cfg = ExperimentConfig::smoke();
    cfg.train.mask_ratio = 1.2;
    assert!(
        cfg.validate()
            .unwrap_err()
            .to_string()
            .contains("mask_ratio = 1.2")
    );
}

#[test]
fn bad_patch_size_and_too_many_tokens_are_errors() {
    let e = patches(&[0.0; 64], 8, 3, &dev()).unwrap_err();
    assert!(
        e.to_string().contains("not divisible by the patch size 3"),
        "{e}"
    );
    let cfg = MaeVitConfig {
        image_side: 8,
        patch: 3,
        ..MaeVitConfig::default()
    };
    assert!(matches!(
        cfg.check(),
        Err(Error::PatchSize { side: 8, patch: 3 })
    ));
    // Five distinct patches, K = 6.
    let x: Vec<f32> = (0..40).map(|i| ((i / 4) % 5) as f32).collect();
    assert_eq!(count_distinct(&x, 4), 5);
    let km = KMeansSettings::default();
    let e = PixelKMeans::fit(&x, 4, 6, &km, 0, false, &dev()).unwrap_err();
    assert!(
        e.to_string().contains("K = 6 exceeds the 5 distinct"),
        "{e}"
    );
    assert!(
        RandProj::fit(&x, 4, 6, 0)
            .unwrap_err()
            .to_string()
            .contains("exceeds")
    );
    // K equal to the distinct count: every point is a centre, no empty class, no NaN.
    let pix = PixelKMeans::fit(&x, 4, 5, &km, 0, false, &dev()).unwrap();
    assert!(pix.codebook.centers().iter().all(|v| v.is_finite()));
}

#[test]
fn a_tokenizer_with_an_empty_class_is_an_error() {
    let x = [0.0f32, 0.0, 1.0, 1.0, 0.1, 0.0, 0.9, 1.0];
    // The second centre is nobody's nearest.
    let e = Codebook::from_centers("PIX-2", vec![0.0, 0.0, 50.0, 50.0], 2, &x, false, &dev())
        .unwrap_err();
    assert!(matches!(e, Error::EmptyToken { token: 1, k: 2, .. }), "{e}");
    assert!(e.to_string().contains("token 1 of 2 is empty"), "{e}");
}

#[test]
fn pix_tokens_on_an_augmented_batch_equal_host_assignments() {
    let (data, _, host) = digits(128);
    let km = KMeansSettings {
        n_init: 2,
        max_iter: 30,
        tol: 1e-6,
    };
    let pix = PixelKMeans::fit(&host, 4, 16, &km, 5, false, &dev()).unwrap();
    // The same fit through core's k-means directly: same centres.
    let core = KMeansConfig {
        k: 16,
        n_init: 2,
        max_iter: 30,
        tol: 1e-6,
        seed: 5,
    }
    .fit(&host, host.len() / 4, 4)
    .unwrap();
    // An augmented batch: each image shifted by one pixel.
    let shifted: Vec<f32> = (0..data.train.len())
        .flat_map(|i| {
            let img = &data.train.pixels[i * 64..(i + 1) * 64];
            data.normalize(&repro_core::augment::translate(img, 1, -1))
        })
        .collect();
    let p = patches(&shifted, 8, 2, &dev()).unwrap();
    let batch = TokenBatch {
        patches: p.clone(),
        image_ids: data.train.ids.clone(),
        labels: None,
        step: 3,
    };
    let t = ints(pix.tokens(&batch).unwrap());
    let want: Vec<i64> = core
        .assign(&repro_core::host::to_vec(p), 4)
        .into_iter()
        .map(|v| v as i64)
        .collect();
    assert_eq!(t, want);
    // Deterministic: the same seed gives the same tokenizer.
    let again = PixelKMeans::fit(&host, 4, 16, &km, 5, false, &dev()).unwrap();
    assert_eq!(again.codebook.centers(), pix.codebook.centers());
}

#[test]
fn rand_bins_and_mix_uniformity() {
    let (data, x, host) = digits(200);
    let r = RandProj::fit(&host, 4, 16, 3).unwrap();
    assert_eq!(r.edges.len(), 15);
    assert!(r.edges.windows(2).all(|w| w[0] <= w[1]));
    let b = TokenBatch {
        patches: patches(&x, 8, 2, &dev()).unwrap(),
        image_ids: data.train.ids.clone(),
        labels: None,
        step: 0,
    };
    let t = ints(r.tokens(&b).unwrap());
    assert!(t.iter().all(|&v| (0..16).contains(&v)));
    let mut seen = [false; 16];
    t.iter().for_each(|&v| seen[v as usize] = true);
    assert!(
        seen.iter().all(|&s| s),
        "every RAND bin is used on its training patches"
    );
    assert_eq!(RandProj::fit(&host, 4, 16, 3).unwrap(), r, "deterministic");
    // MIX: 200 images × 16 patches × 5 steps over 16 ids; χ² with 15 df, p > 1e-3 ⇔ χ² < 37.70.
    let mix = Mix { k: 16, seed: 11 };
    let mut counts = [0f64; 16];
    for step in 0..5 {
        let b = TokenBatch { step, ..b.clone() };
        for v in ints(mix.tokens(&b).unwrap()) {
            counts[v as usize] += 1.0;
        }
    }
    let e = counts.iter().sum::<f64>() / 16.0;
    let chi2: f64 = counts.iter().map(|c| (c - e).powi(2) / e).sum();
    assert!(chi2 < 37.70, "χ² = {chi2}, counts {counts:?}");
    let b1 = TokenBatch {
        step: 1,
        ..b.clone()
    };
    assert_ne!(
        ints(mix.tokens(&b).unwrap()),
        ints(mix.tokens(&b1).unwrap()),
        "fresh each step"
    );
    assert_eq!(
        ints(mix.tokens(&b1).unwrap()),
        ints(mix.tokens(&b1).unwrap())
    );
}

#[test]
fn feat_encoder_stays_frozen_and_features_ignore_masking() {
    let _g = seed_lock();
    let (data, x, _) = digits(64);
    let d = dev();
    let ad = d.clone().autodiff();
    let encoder = init_model(&tiny_model(), Head::Pixels, 1, &d).unwrap();
    let before = repro_core::params::flatten(&encoder);
    let feat = FeatureKMeans::fit(
        encoder,
        patches(&x, 8, 2, &d).unwrap(),
        4,
        &KMeansSettings::default(),
        0,
        false,
    )
    .unwrap();
    let b = TokenBatch {
        patches: patches(&x, 8, 2, &d).unwrap(),
        image_ids: data.train.ids.clone(),
        labels: None,
        step: 0,
    };
    let t0 = ints(feat.tokens(&b).unwrap());
    let mut model = init_model(&tiny_model(), Head::Tokens(4), 2, &ad).unwrap();
    let mut opt = repro_core::train::optim::adamw(0.05).init();
    let mut rng = SplitMix64::new(0);
    for _ in 0..3 {
        let m = masking(64, 16, 0.75, &mut rng, &ad).unwrap();
        let ids = Tensor::<2, Int>::from_data(feat.tokens(&b).unwrap().into_data(), &ad);
        let loss = masked_token_ce(
            model.forward(patches(&x, 8, 2, &ad).unwrap(), &m),
            ids,
            m.mask.clone(),
            0.0,
        );
        let raw = loss.backward();
        assert!(
            repro_core::params::flatten_grads(feat.encoder(), &raw).is_empty(),
            "a gradient reached the frozen encoder"
        );
        assert!(!repro_core::params::flatten_grads(&model, &raw).is_empty());
        let grads = GradientsParams::from_grads(raw, &model);
        model = opt.step(1e-2, model, grads);
    }
    assert_eq!(repro_core::params::flatten(feat.encoder()), before);
    assert_eq!(ints(feat.tokens(&b).unwrap()), t0);
    // Probe features: no mask, so drawing masks in between changes nothing.
    let eval = model.valid();
    let (c1, m1) = eval.features(patches(&x, 8, 2, &d).unwrap());
    let _ = masking(64, 16, 0.75, &mut rng, &d).unwrap();
    let (c2, m2) = eval.features(patches(&x, 8, 2, &d).unwrap());
    assert_eq!(repro_core::host::to_vec(c1), repro_core::host::to_vec(c2));
    assert_eq!(repro_core::host::to_vec(m1), repro_core::host::to_vec(m2));
}

#[test]
fn pix_and_mae_losses_fall() {
    let _g = seed_lock();
    let (data, _, host) = digits(256);
    let d = dev();
    let train = TrainConfig {
        epochs: 8,
        batch_size: 32,
        lr: 2e-3,
        ..ExperimentConfig::smoke().train
    };
    let pix = PixelKMeans::fit(&host, 4, 16, &KMeansSettings::default(), 0, false, &d).unwrap();
    for tk in [None, Some(&pix as &dyn Tokenizer)] {
        let spec = PretrainSpec {
            model: &tiny_model(),
            train: &train,
            tokenizer: tk,
            seed: 0,
            progress: None,
        };
        let pre = pretrain(&data, &spec, &d, &mut |_| Ok(0.0)).unwrap();
        assert_eq!(pre.losses.len(), 64);
        let m = |v: &[f32]| v.iter().sum::<f32>() / v.len() as f32;
        let (first, last) = (m(&pre.losses[..10]), m(&pre.losses[54..]));
        assert!(last < first, "loss did not fall: {first} -> {last}");
    }
}
