//! The library as another Burn project uses it: spec §7's cross-module checks through the
//! public API, and the bad inputs issue 12 lists, each a clear error (never a panic).

use burn::tensor::{Device, Tensor, TensorData};
use repro_core::device::{init_params_now, seed, seed_lock};
use repro_core::rng::Noise;
use repro_icl_ood::baselines::{self, Baseline, Features, GdCfg, GdModel};
use repro_icl_ood::curriculum::{Curriculum, Stage};
use repro_icl_ood::eval::{error_curve, switch_index};
use repro_icl_ood::model::{IclModelConfig, combine, predict_batch};
use repro_icl_ood::tasks::{FunctionClass, sample};
use repro_icl_ood::train::{Hooks, MixSchedule, TrainSpec, train};

#[test]
fn combine_puts_labels_in_the_odd_slots() {
    let device = Device::flex();
    // Two prompts of 3 points in d = 2; label of point j of prompt p is 10p + j.
    let xs = Tensor::<3>::from_data(
        TensorData::new((0..12).map(|v| v as f32).collect::<Vec<_>>(), [2, 3, 2]),
        &device,
    );
    let ys = Tensor::<3>::from_data(
        TensorData::new(vec![0.0f32, 1.0, 2.0, 10.0, 11.0, 12.0], [2, 3, 1]),
        &device,
    );
    let z = combine(xs, ys);
    assert_eq!(z.dims(), [2, 6, 2]);
    let v: Vec<f32> = z.into_data().try_into_vec::<f32>().unwrap();
    for p in 0..2 {
        for j in 0..3 {
            let x = &v[(p * 6 + 2 * j) * 2..][..2];
            let y = &v[(p * 6 + 2 * j + 1) * 2..][..2];
            assert_eq!(x, [(p * 6 + 2 * j) as f32, (p * 6 + 2 * j + 1) as f32]);
            assert_eq!(y, [(10 * p + j) as f32, 0.0], "ỹ = (y, 0, …, 0)");
        }
    }
}

#[test]
fn no_label_leakage_in_a_trained_model() {
    let _g = seed_lock();
    let device = Device::flex().autodiff();
    seed(&device, 3);
    let (d, n) = (3, 6);
    let cfg = IclModelConfig::tiny(d, 1, n).with_d_model(16);
    let model = init_params_now(cfg.init(&device).unwrap());
    let spec = TrainSpec {
        tasks: vec![FunctionClass::Linear],
        schedule: MixSchedule::SequentialPerTask,
        iterations: 5,
        batch: 8,
        d,
        n,
        curriculum: Curriculum::fixed(d, n),
        lr: 1e-3,
        warmup: 1,
        data_seed: 0,
    };
    use burn::module::Module;
    let model = train(model, &device, &spec, &Hooks::none())
        .unwrap()
        .model
        .valid();
    let plain = Device::flex();
    let batch = sample(&FunctionClass::Linear, 4, n, d, d, &mut Noise::new(9)).unwrap();
    let base = predict_batch(&model, &cfg, &batch, &plain, 4).unwrap();
    for k in 0..n {
        // Change y_k and every later x and y: ŷ_0..ŷ_k must not move.
        let mut changed = batch.clone();
        for p in 0..4 {
            for j in k..n {
                changed.ys[p * n + j] -= 3.0;
                if j > k {
                    for i in 0..d {
                        changed.xs[(p * n + j) * d + i] *= -2.0;
                    }
                }
            }
        }
        let after = predict_batch(&model, &cfg, &changed, &plain, 4).unwrap();
        for p in 0..4 {
            for j in 0..=k {
                // Same inputs through the same causal graph: equal up to f32 reordering.
                assert!(
                    (after[p * n + j] - base[p * n + j]).abs() < 1e-5,
                    "k = {k}, ŷ_{j}"
                );
            }
        }
    }
}

#[test]
fn switch_index_at_its_extremes_on_the_mixture_prompts() {
    let (b, n, d) = (64, 13, 3);
    let class = FunctionClass::LinQuad { lambda: 0.25 };
    let batch = sample(&class, b, n, d, d, &mut Noise::new(4)).unwrap();
    let k = [n - 1];
    let lin = baselines::predict_batch(&Baseline::Ols(Features::Lin), &batch, b, &k, 0).unwrap();
    let quad = baselines::predict_batch(&Baseline::Ols(Features::Quad), &batch, b, &k, 0).unwrap();
    assert_eq!(switch_index(&lin, &lin, &quad).unwrap(), Some(0.0));
    assert_eq!(switch_index(&quad, &lin, &quad).unwrap(), Some(1.0));
    // OLS-linquad is exact on the mixture once k >= 2d: zero normalised error at k_max.
    let lq = baselines::predict_batch(&Baseline::Ols(Features::LinQuad), &batch, b, &k, 0).unwrap();
    let ys: Vec<f64> = (0..b).map(|p| f64::from(batch.ys[p * n + n - 1])).collect();
    let e = error_curve(&lq, &ys, b, &k, 1, class.var_y(d), 0).unwrap();
    assert!(e.mean[0] < 1e-10, "{}", e.mean[0]);
}

#[test]
fn gd_baselines_are_seeded() {
    let batch = sample(&FunctionClass::Quadratic, 4, 7, 2, 2, &mut Noise::new(1)).unwrap();
    let b = Baseline::Gd(
        GdModel::Nn { hidden: 8 },
        GdCfg {
            steps: 20,
            lr: 5e-3,
            batch: 100,
        },
    );
    let a = baselines::predict_batch(&b, &batch, 4, &[0, 3, 6], 11).unwrap();
    assert_eq!(
        a,
        baselines::predict_batch(&b, &batch, 4, &[0, 3, 6], 11).unwrap()
    );
    assert_ne!(
        a,
        baselines::predict_batch(&b, &batch, 4, &[0, 3, 6], 12).unwrap()
    );
    // No context, no fit: 0 at k = 0.
    assert!((0..4).all(|p| a[p * 3] == 0.0));
}

#[test]
fn bad_input_gets_a_clear_error() {
    let _rng = repro_core::device::seed_lock(); // Burn's generator is process-wide
    let mut rng = Noise::new(0);
    let err = |r: anyhow::Result<_>| -> String {
        let r: anyhow::Result<()> = r.map(|_: repro_icl_ood::tasks::IclBatch| ());
        r.unwrap_err().to_string()
    };
    // d and n out of range.
    let e = err(sample(&FunctionClass::Linear, 2, 3, 0, 0, &mut rng));
    assert!(e.contains("input width d = 0"), "{e}");
    let e = err(sample(&FunctionClass::Linear, 2, 0, 3, 3, &mut rng));
    assert!(e.contains("points n = 0"), "{e}");
    // A model too short for the prompts.
    let cfg = IclModelConfig::tiny(3, 1, 4).with_d_model(16);
    let model = cfg.init(&Device::flex()).unwrap();
    let long = sample(&FunctionClass::Linear, 1, 5, 3, 3, &mut rng).unwrap();
    let e = predict_batch(&model, &cfg, &long, &Device::flex(), 4)
        .unwrap_err()
        .to_string();
    assert!(e.contains("do not fit a model of 4 points"), "{e}");
    // λ outside [0, 1] and an empty shift range.
    assert!(
        err(sample(
            &FunctionClass::LinQuad { lambda: -0.5 },
            2,
            3,
            3,
            3,
            &mut rng
        ))
        .contains("[0, 1]")
    );
    // Empty shift ranges, also a reversed one as a user might type it (shift_low > high).
    for (start, end) in [(100, 100), (150, 50)] {
        let empty = FunctionClass::RandomIntMapping {
            n_classes: 1000,
            shift: std::ops::Range { start, end },
            table_seed: 0,
        };
        assert!(err(sample(&empty, 2, 3, 5, 5, &mut rng)).contains("empty"));
    }
    // k out of range.
    let batch = sample(&FunctionClass::Linear, 2, 5, 3, 3, &mut rng).unwrap();
    let e = baselines::predict_batch(&Baseline::Zero, &batch, 2, &[5], 0)
        .unwrap_err()
        .to_string();
    assert!(e.contains("k = 5"), "{e}");
    // A curriculum that ends above the model's length.
    let c = Curriculum {
        dims: Stage::fixed(3),
        points: Stage {
            start: 5,
            end: 21,
            inc: 2,
            interval: 10,
        },
    };
    let e = c.check(3, 17).unwrap_err().to_string();
    assert!(e.contains("21") && e.contains("17"), "{e}");
}
