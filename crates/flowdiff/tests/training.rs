//! Training-loop properties: gradient isolation between the flow and the prior, and
//! determinism of seeded runs. Seeded code holds `seed_lock` (Burn's generator is global).

use burn::module::Module;
use burn::tensor::{Device, Tensor};
use repro_core::device::seed_lock;
use repro_core::params::flatten_bits;
use repro_core::rng::Noise;
use repro_flowdiff::config::{Dataset2d, FlowDiffConfig};
use repro_flowdiff::corruption::{CleanSamples, IdentityOp, Observations, corrupt};
use repro_flowdiff::eval::sample_2d;
use repro_flowdiff::train::FlowDiffTrainer;

fn setup(device: &Device) -> (FlowDiffConfig, Observations, IdentityOp) {
    let mut cfg = FlowDiffConfig::two_d();
    cfg.batch = 64;
    cfg.k = 2;
    let op = IdentityOp::new(2, 0.5).expect("sigma > 0");
    let x = sample_2d(Dataset2d::Ring8, 256, &mut Noise::new(1), device);
    let y = corrupt(&op, &CleanSamples(x), 2).expect("samples");
    (cfg, y, op)
}

#[test]
fn flow_and_dm_steps_touch_only_their_own_parameters() {
    let _guard = seed_lock();
    let device = Device::flex().autodiff();
    let (cfg, y, op) = setup(&device);
    let mut tr = FlowDiffTrainer::new(&cfg, &y, &op, &device, 0).expect("trainer");
    for _ in 0..3 {
        tr.warm_start_step();
    }
    let (ema0, online0, flow0) = (
        flatten_bits(&tr.dm.ema),
        flatten_bits(&tr.dm.online),
        flatten_bits(&tr.flow),
    );
    tr.flow_step();
    assert_eq!(
        flatten_bits(&tr.dm.ema),
        ema0,
        "a flow step changed the EMA prior"
    );
    assert_eq!(
        flatten_bits(&tr.dm.online),
        online0,
        "a flow step changed the online prior"
    );
    let flow1 = flatten_bits(&tr.flow);
    assert_ne!(flow1, flow0, "a flow step left the flow unchanged");
    tr.dm_step();
    assert_eq!(flatten_bits(&tr.flow), flow1, "a DM step changed the flow");
    assert_ne!(flatten_bits(&tr.dm.online), online0);
    assert_ne!(flatten_bits(&tr.dm.ema), ema0);
}

#[test]
fn same_seed_gives_identical_first_losses() {
    let _guard = seed_lock();
    let device = Device::flex().autodiff();
    let (cfg, y, op) = setup(&device);
    let run = || {
        let mut tr = FlowDiffTrainer::new(&cfg, &y, &op, &device, 3).expect("trainer");
        let mut v: Vec<u32> = (0..4).map(|_| tr.warm_start_step().to_bits()).collect();
        for _ in 0..3 {
            v.push(tr.flow_step().total.to_bits());
            v.push(tr.dm_step().to_bits());
        }
        v
    };
    assert_eq!(run(), run());
}

#[test]
fn empty_observations_and_zero_batches_are_errors() {
    let device = Device::flex().autodiff();
    let (mut cfg, _, op) = setup(&device);
    let empty = Observations(Tensor::zeros([0, 2], &device));
    let e = FlowDiffTrainer::new(&cfg, &empty, &op, &device, 0)
        .err()
        .expect("error");
    assert!(e.to_string().contains("sample count is zero"), "{e}");
    cfg.batch = 0;
    let (_, y, _) = setup(&device);
    assert!(FlowDiffTrainer::new(&cfg, &y, &op, &device, 0).is_err());
}

/// Validation of the DM at the spec's full step count (10 000 DSM steps on clean ring8, EMA
/// 0.998): prints MMD^2 of 5 000 DDIM samples to fresh clean samples (spec prototype: 0.007).
/// Minutes of CPU: run with `--ignored`.
#[test]
#[ignore]
fn oracle_dm_at_full_steps() {
    use repro_core::host::to_vec;
    use repro_flowdiff::diffusion::ddim_sample;
    use repro_flowdiff::eval::mmd2_rbf;
    use repro_flowdiff::train::train_dm;
    let _guard = seed_lock();
    let plain = Device::flex();
    let device = plain.clone().autodiff();
    let cfg = FlowDiffConfig::two_d();
    let x = sample_2d(Dataset2d::Ring8, 5000, &mut Noise::new(1000), &device);
    let clean = to_vec(sample_2d(
        Dataset2d::Ring8,
        5000,
        &mut Noise::new(3000),
        &plain,
    ));
    let h = [0.05, 0.1, 0.2, 0.5, 1.0];
    let mut curve = Vec::new();
    let dm = train_dm(&cfg, x, 10_000, &device, 0, 2000, &mut |step, ema| {
        let s = to_vec(ddim_sample(
            ema,
            2000,
            2,
            100,
            &cfg.schedule,
            None,
            &mut Noise::new(5),
            &plain,
        ));
        curve.push((step, mmd2_rbf(&s, &clean[..4000], 2, &h)));
    })
    .expect("train");
    let online = dm.online.valid();
    let s = to_vec(ddim_sample(
        &online,
        2000,
        2,
        100,
        &cfg.schedule,
        None,
        &mut Noise::new(5),
        &plain,
    ));
    let online_mmd = mmd2_rbf(&s, &clean[..4000], 2, &h);
    eprintln!(
        "EMA curve (step, MMD^2 on 2 000 samples): {curve:?}; online at the end: {online_mmd}"
    );
    // The oracle is the reference every 2-D claim is measured against: it must keep
    // improving past the quick profile's 2 000 steps (MMD^2 0.0254 in docs/papers/flowdiff.md)
    // and end well inside that.
    let steps: Vec<usize> = curve.iter().map(|&(s, _)| s).collect();
    assert_eq!(
        steps,
        [0, 2000, 4000, 6000, 8000, 10_000],
        "an EMA evaluation every 2 000 steps"
    );
    let (first, last) = (curve[1].1, curve[5].1);
    assert!(curve.iter().all(|(_, m)| m.is_finite()), "{curve:?}");
    assert!(
        last < first,
        "EMA MMD^2 {last} at 10 000 steps not below {first} at 2 000"
    );
    assert!(
        last < 0.0254 && online_mmd < 0.0254,
        "EMA {last}, online {online_mmd}"
    );
}
