//! The two costs of the quick profile (vocabulary 328, d_model 64, 4 heads, 4 layers, d_ff
//! 256): one integrated-gradients attribution of a 4-prompt bag at m = 20 over every layer
//! (one activation pass, then one batched forward + backward of 4 × 4 × 20 = 320 rows of
//! up to 7 tokens with the leaf in place of each row's layer activations), and one training
//! step on a batch of 64 mixed items (forward, masked cross-entropy, backward, global-norm
//! clip, AdamW). Twin: `kn_step_torch.py`.

use burn::module::Module;
use burn::optim::GradientsParams;
use burn::tensor::Device;
use repro_core::bench;
use repro_core::nn::decoder::{AttnMask, DecoderInput, FfnHooks};
use repro_core::rng;
use repro_core::train::optim;
use repro_factual_recall::attribution::{IgConfig, Target, ig_batch};
use repro_factual_recall::kb::{KbConfig, generate};
use repro_factual_recall::train::{ModelConfig, Pools, TrainSpec, batch_tensors, masked_ce};

fn main() {
    let kb = generate(&KbConfig::full(), 0).expect("knowledge base");
    let device = Device::flex().autodiff();
    let mut model = ModelConfig::quick().init(&kb, &device, 0);
    let bag = kb.bag(0, kb.persons[0]).expect("bag");
    let lens: Vec<usize> = bag.prompts.iter().map(Vec::len).collect();
    eprintln!("vocab {}, bag prompt lengths {lens:?}", kb.vocab_size());
    let targets: Vec<Target> = bag
        .prompts
        .iter()
        .map(|p| Target::last(p.clone(), bag.gold))
        .collect();
    let frozen = model.clone().no_grad();
    let ig = bench::run("kn_ig_bag4_m20", 3, 20, || {
        let a =
            ig_batch(&frozen, &targets, &[0, 1, 2, 3], &IgConfig::default()).expect("attribution");
        std::hint::black_box(a);
    });

    let spec = TrainSpec::quick();
    let pools = Pools::of(&kb);
    let batch = pools.draw(&spec, &mut rng::stream(0, "batches"));
    let (ids, tgt, mask) = batch_tensors(&batch, &device);
    eprintln!("training batch {:?}", ids.dims());
    let mut opt = optim::adamw_matrices_only(&model, &optim::adamw(0.01));
    let step = bench::run("kn_train_step_b64", 5, 30, || {
        let logits = model.forward(
            DecoderInput::Tokens(ids.clone()),
            0,
            &AttnMask::Causal,
            &mut FfnHooks::none(),
        );
        let loss = masked_ce(logits, tgt.clone(), mask.clone());
        let _ = loss.clone().into_scalar::<f32>();
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        let (grads, _) = optim::clip_global_norm(&model, grads, 1.0).expect("clip");
        model = opt.step(1e-3, model.clone(), grads);
    });
    bench::emit(&[ig, step]);
}
