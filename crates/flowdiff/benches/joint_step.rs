//! One joint FlowDiff training step of the quick configuration (ring8, sigma 0.5, batch 256,
//! K = 8: a flow step whose prior term runs the EMA denoiser on 2 048 rows, then a DSM step
//! on fresh flow samples and the EMA update), and its two halves. Twin: `joint_step_torch.py`.

use burn::tensor::Device;
use repro_core::bench;
use repro_core::rng::Noise;
use repro_flowdiff::config::Dataset2d;
use repro_flowdiff::config::ExperimentConfig;
use repro_flowdiff::corruption::{CleanSamples, IdentityOp, corrupt};
use repro_flowdiff::eval::sample_2d;
use repro_flowdiff::train::FlowDiffTrainer;

fn main() {
    let cfg = ExperimentConfig::quick();
    let plain = Device::flex();
    let device = plain.clone().autodiff();
    let op = IdentityOp::new(2, 0.5).expect("sigma > 0");
    let x = sample_2d(Dataset2d::Ring8, cfg.n_train, &mut Noise::new(1000), &plain);
    let y = corrupt(&op, &CleanSamples(x), 2000).expect("non-empty");
    let y = repro_flowdiff::corruption::Observations(y.0.to_device(&device));
    let mut tr = FlowDiffTrainer::new(&cfg.train, &y, &op, &device, 0).expect("valid config");
    let joint = bench::run("flowdiff_joint_step_b256_k8", 10, 100, || {
        let _ = tr.flow_step();
        let _ = tr.dm_step();
    });
    let flow = bench::run("flowdiff_flow_step_b256_k8", 10, 100, || {
        let _ = tr.flow_step();
    });
    let dm = bench::run("flowdiff_dm_step_b256", 10, 100, || {
        let _ = tr.dm_step();
    });
    bench::emit(&[joint, flow, dm]);
}
