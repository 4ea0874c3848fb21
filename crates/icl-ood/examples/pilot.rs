//! The ICL-1 gate pilot (issue 12): trains the quick-shape model on LR with a given
//! recipe and prints its normalised error curve beside OLS, 3-NN and averaging, with the
//! time per step.
//!
//! `cargo run -p repro-icl-ood --example pilot -- STEPS LR INTERVAL [CLASS [INIT [BATCH]]]`
//! (INTERVAL 0 = no curriculum; CLASS `lr` or `qr`; INIT `default` or `gpt2`). A design input only: no number printed
//! here enters a verdict.

use std::time::Instant;

use burn::module::Module;
use burn::tensor::Device;
use repro_core::device::{init_params_now, seed};
use repro_icl_ood::baselines::{Baseline, Features, predict_batch};
use repro_icl_ood::config::ExperimentConfig;
use repro_icl_ood::curriculum::{Curriculum, Stage};
use repro_icl_ood::eval::error_curve;
use repro_icl_ood::model;
use repro_icl_ood::tasks::{FunctionClass, eval_prompts};
use repro_icl_ood::train::{Hooks, MixSchedule, TrainSpec, train};

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize, default: &str| args.get(i).cloned().unwrap_or_else(|| default.into());
    let steps: usize = arg(0, "1000").parse()?;
    let lr: f64 = arg(1, "5e-4").parse()?;
    let interval: usize = arg(2, "150").parse()?;
    let class = match arg(3, "lr").as_str() {
        "qr" => FunctionClass::Quadratic,
        _ => FunctionClass::Linear,
    };
    let cfg = ExperimentConfig::quick();
    let (d, n) = (cfg.d, cfg.n);
    let curriculum = if interval == 0 {
        Curriculum::fixed(d, n)
    } else {
        Curriculum {
            dims: Stage {
                interval,
                ..cfg.curriculum.dims
            },
            points: Stage {
                interval,
                ..cfg.curriculum.points
            },
        }
    };
    let device = Device::flex().autodiff();
    seed(&device, 0);
    let mcfg = cfg.model.config(d, 1, n);
    let m = if arg(4, "gpt2") == "gpt2" {
        init_params_now(mcfg.init_gpt2(&device, 0)?)
    } else {
        init_params_now(mcfg.init(&device)?)
    };
    let spec = TrainSpec {
        tasks: vec![class.clone()],
        schedule: MixSchedule::SequentialPerTask,
        iterations: steps,
        batch: arg(5, "32").parse()?,
        d,
        n,
        curriculum,
        lr,
        warmup: cfg.warmup,
        data_seed: 0,
    };
    let t0 = Instant::now();
    let timing = TrainSpec {
        iterations: 50,
        curriculum: Curriculum::fixed(d, n),
        ..spec.clone()
    };
    let fifty = train(m.clone(), &device, &timing, &Hooks::none())?;
    drop(fifty);
    let per_step = t0.elapsed().as_secs_f64() / 50.0;
    println!("50 full-length steps: {per_step:.4} s/step");
    let t1 = Instant::now();
    let run = train(m, &device, &spec, &Hooks::none())?;
    println!(
        "{steps} steps: {:.1} s; loss first/last 50: {:.3} / {:.3}",
        t1.elapsed().as_secs_f64(),
        run.losses[..50.min(steps)].iter().sum::<f64>() / 50f64.min(steps as f64),
        run.losses[steps.saturating_sub(50)..].iter().sum::<f64>() / 50f64.min(steps as f64)
    );
    for (i, c) in run.losses.chunks(200).enumerate() {
        print!(
            "[{}] {:.3}  ",
            (i + 1) * 200,
            c.iter().sum::<f64>() / c.len() as f64
        );
    }
    println!();
    let plain = Device::flex();
    let model = run.model.valid();
    let batch = eval_prompts(&class, 1280, n, d)?;
    let pred: Vec<f64> = model::predict_batch(&model, &mcfg, &batch, &plain, 256)?
        .into_iter()
        .map(f64::from)
        .collect();
    let ys: Vec<f64> = batch.ys.iter().map(|&v| f64::from(v)).collect();
    let ks: Vec<usize> = (0..n).collect();
    let var = class.var_y(d);
    let c = error_curve(&pred, &ys, 1280, &ks, 1, var, 0)?;
    let mut rows = vec![("model".to_owned(), c.mean)];
    for b in [
        Baseline::Ols(Features::Lin),
        Baseline::Ols(Features::Quad),
        Baseline::Knn(3),
        Baseline::Averaging,
    ] {
        let p = predict_batch(&b, &batch, 1280, &ks, 0)?;
        rows.push((b.name(), error_curve(&p, &ys, 1280, &ks, 1, var, 0)?.mean));
    }
    print!("{:>10}", "k");
    for k in &ks {
        print!("{k:>7}");
    }
    println!();
    for (name, m) in rows {
        print!("{name:>10}");
        for v in m {
            print!("{v:>7.3}");
        }
        println!();
    }
    Ok(())
}
