//! The transformer stack, its masks and cell-level FFN hooks, the decoder built on it, and
//! greedy decoding, through the public API.
//!
//! Every test that builds a model holds `seed_lock`: Flex's generator is process-wide and
//! lazily initialised parameters draw from it on first use, so an unlocked test would
//! shift another test's seeded draws.

use burn::module::{Module, ModuleVisitor, Param};
use burn::nn::{EmbeddingConfig, LinearConfig};
use burn::tensor::{Bool, Device, Int, Tensor, TensorData};
use repro_core::device::{init_params_now, seed, seed_lock};
use repro_core::host;
use repro_core::lm::{CausalLm, ids_tensor};
use repro_core::nn::NnError;
use repro_core::nn::decoder::{Decoder, DecoderConfig, DecoderInput};
use repro_core::nn::hooks::{FfnCell, FfnHooks, FfnPatch};
use repro_core::nn::transformer::{AttnMask, Positions, TransformerStackConfig};
use repro_core::rng::Noise;

const VOCAB: usize = 11;
const SEQ: [[i64; 8]; 2] = [[1, 5, 2, 7, 3, 3, 9, 0], [4, 6, 10, 2, 8, 1, 1, 5]];

fn config(positions: Positions) -> DecoderConfig {
    DecoderConfig::new(VOCAB)
        .with_d_model(16)
        .with_n_heads(2)
        .with_n_layers(2)
        .with_d_ff(24)
        .with_positions(positions)
        .with_max_len(32)
}

fn decoder(positions: Positions, s: u64, device: &Device) -> Decoder {
    seed(device, s);
    init_params_now(config(positions).init(device))
}

fn tokens(device: &Device) -> Tensor<2, Int> {
    ids_tensor(&[SEQ[0].to_vec(), SEQ[1].to_vec()], device)
}

fn logits(m: &Decoder, ids: Tensor<2, Int>, mask: &AttnMask, hooks: &mut FfnHooks) -> Tensor<3> {
    m.forward(DecoderInput::Tokens(ids), 0, mask, hooks)
}

/// Values at `[b, t]` of a `[B, T, d]` tensor.
fn at(x: &Tensor<3>, b: usize, t: usize) -> Vec<f32> {
    let d = x.dims()[2];
    host::to_vec(x.clone().slice([b..b + 1, t..t + 1, 0..d]))
}

/// Parameter paths and shapes in visiting (= first-draw) order.
#[derive(Default)]
struct Paths {
    out: Vec<String>,
    stack: Vec<String>,
}

impl ModuleVisitor for Paths {
    fn enter_module(&mut self, name: &str, _container: &str) {
        self.stack.push(name.to_string());
    }
    fn exit_module(&mut self, _name: &str, _container: &str) {
        self.stack.pop();
    }
    fn visit_float<const D: usize>(&mut self, p: &Param<Tensor<D>>) {
        let dims = p.lazy_shape().dims::<D>().to_vec();
        self.out.push(format!("{} {dims:?}", self.stack.join(".")));
    }
}

fn paths<M: Module>(m: &M) -> Vec<String> {
    let mut v = Paths::default();
    m.visit(&mut v);
    v.out
}

#[test]
fn decoder_record_layout_is_unchanged() {
    let _g = seed_lock();
    let device = Device::flex();
    // The paths checkpoints store, as the decoder had them before it was rebuilt on the
    // stack (dumped from that version): d_model 8, d_ff 32, vocab 7, max_len 5.
    let block = |l: usize| {
        [
            ("ln_attn.gamma", "[8]"),
            ("ln_attn.beta", "[8]"),
            ("query.weight", "[8, 8]"),
            ("query.bias", "[8]"),
            ("key.weight", "[8, 8]"),
            ("key.bias", "[8]"),
            ("value.weight", "[8, 8]"),
            ("value.bias", "[8]"),
            ("out.weight", "[8, 8]"),
            ("out.bias", "[8]"),
            ("ln_mlp.gamma", "[8]"),
            ("ln_mlp.beta", "[8]"),
            ("up.weight", "[8, 32]"),
            ("up.bias", "[32]"),
            ("down.weight", "[32, 8]"),
            ("down.bias", "[8]"),
        ]
        .map(|(p, s)| format!("blocks.{l}.{p} {s}"))
    };
    let tail = ["ln_final.gamma [8]", "ln_final.beta [8]"].map(String::from);
    let m = DecoderConfig::new(7)
        .with_d_model(8)
        .with_n_heads(2)
        .with_n_layers(2)
        .with_max_len(5)
        .with_positions(Positions::Learned)
        .init(&device);
    let mut expected = vec![
        "embed.weight [7, 8]".to_string(),
        "pos_embed.weight [5, 8]".into(),
    ];
    expected.extend(block(0));
    expected.extend(block(1));
    expected.extend(tail.clone());
    expected.extend(["head.weight [8, 7]".to_string(), "head.bias [7]".into()]);
    assert_eq!(paths(&m), expected);
    let m = DecoderConfig::new(0)
        .with_d_in(3)
        .with_d_out(2)
        .with_d_model(8)
        .with_n_heads(2)
        .with_n_layers(1)
        .with_max_len(5)
        .init(&device);
    let mut expected = vec![
        "read_in.weight [3, 8]".to_string(),
        "read_in.bias [8]".into(),
    ];
    expected.extend(block(0));
    expected.extend(tail);
    expected.extend(["head.weight [8, 2]".to_string(), "head.bias [2]".into()]);
    assert_eq!(paths(&m), expected);
}

#[test]
fn decoder_equals_embeddings_stack_and_head_on_the_same_seed() {
    let _g = seed_lock();
    let device = Device::flex();
    for positions in [
        Positions::Rope { base: 10000.0 },
        Positions::Learned,
        Positions::None,
    ] {
        let cfg = config(positions.clone());
        let m = decoder(positions.clone(), 21, &device);
        // Hand assembly: the decoder draws embed, (pos_embed,) blocks, head in that order,
        // so the same seed gives the same weights when built and drawn in that order.
        seed(&device, 21);
        let embed = init_params_now(EmbeddingConfig::new(VOCAB, 16).init(&device));
        let stack = init_params_now(cfg.stack_config().init(&device));
        let head = init_params_now(LinearConfig::new(16, VOCAB).init(&device));
        for (start, mask) in [
            (0, AttnMask::Causal),
            (3, AttnMask::Banded { window: 3 }),
            (1, AttnMask::None),
        ] {
            let (mut h1, mut h2) = (FfnHooks::recording(), FfnHooks::recording());
            let direct = m.forward(DecoderInput::Tokens(tokens(&device)), start, &mask, &mut h1);
            let hidden = stack.forward(embed.forward(tokens(&device)), start, &mask, &mut h2);
            let composed = head.forward(hidden);
            // Same operations on the same weights: bit-identical.
            assert_eq!(
                host::to_vec(direct),
                host::to_vec(composed),
                "{positions:?}"
            );
            assert_eq!(h1.recorded.len(), 2);
            for (a, b) in h1.recorded.into_iter().zip(h2.recorded) {
                assert_eq!(host::to_vec(a), host::to_vec(b));
            }
        }
        assert_eq!(m.max_len(), stack.max_len());
        assert_eq!(m.relative_positions(), stack.relative_positions());
    }
}

#[test]
fn bidirectional_mask_lets_position_zero_see_the_last_token() {
    let _g = seed_lock();
    let device = Device::flex();
    let m = decoder(Positions::Rope { base: 10000.0 }, 4, &device);
    let mut changed = SEQ;
    changed[0][7] = 10;
    let changed = ids_tensor(&[changed[0].to_vec(), changed[1].to_vec()], &device);
    let first = |ids: Tensor<2, Int>, mask: &AttnMask| {
        let y = logits(&m, ids, mask, &mut FfnHooks::none());
        (at(&y, 0, 0), at(&y, 1, 0))
    };
    let (base_none, other_none) = first(tokens(&device), &AttnMask::None);
    let (new_none, other_none2) = first(changed.clone(), &AttnMask::None);
    let diff = base_none
        .iter()
        .zip(&new_none)
        .fold(0f32, |m, (a, b)| m.max((a - b).abs()));
    assert!(
        diff > 1e-4,
        "position 0 must see position T-1 without a mask ({diff})"
    );
    assert_eq!(other_none, other_none2, "row 1 is unchanged");
    let (base_causal, _) = first(tokens(&device), &AttnMask::Causal);
    let (new_causal, _) = first(changed, &AttnMask::Causal);
    assert_eq!(
        base_causal, new_causal,
        "a causal position 0 sees only itself"
    );
}

#[test]
fn no_mask_is_an_all_false_explicit_mask() {
    let _g = seed_lock();
    let device = Device::flex();
    let m = decoder(Positions::Learned, 8, &device);
    let none = logits(&m, tokens(&device), &AttnMask::None, &mut FfnHooks::none());
    let open =
        Tensor::<3, Bool>::from_data(TensorData::new(vec![false; 2 * 64], [2, 8, 8]), &device);
    let explicit = logits(
        &m,
        tokens(&device),
        &AttnMask::Explicit(Box::new(open)),
        &mut FfnHooks::none(),
    );
    // Kernels may differ with and without a mask tensor: 1e-5 is f32 rounding at these
    // magnitudes (logits of order 1).
    none.into_data().assert_approx_eq::<f32>(
        &explicit.into_data(),
        burn::tensor::Tolerance::absolute(1e-5),
    );
}

#[test]
fn no_positions_and_no_mask_make_a_set_function() {
    let _g = seed_lock();
    let device = Device::flex();
    let mut noise = Noise::new(5);
    let x = Tensor::<3>::from_data(
        TensorData::new(noise.normal_vec(6 * 16), [1, 6, 16]),
        &device,
    );
    let perm = [4usize, 0, 5, 2, 1, 3];
    let permuted = x.clone().select(1, host::indices(&perm, &device));
    for (positions, equivariant) in [
        (Positions::None, true),
        (Positions::Rope { base: 10000.0 }, false),
    ] {
        seed(&device, 9);
        let stack = init_params_now(
            TransformerStackConfig::new(16)
                .with_n_heads(2)
                .with_positions(positions)
                .with_max_len(8)
                .init(&device),
        );
        let run = |x: Tensor<3>| stack.forward(x, 0, &AttnMask::None, &mut FfnHooks::none());
        let a = run(x.clone()).select(1, host::indices(&perm, &device));
        let b = run(permuted.clone());
        let diff = (a - b).abs().max().into_scalar::<f32>();
        // Without positions the outputs permute with the inputs up to summation order
        // (1e-5 at unit scale); RoPE breaks the symmetry by far more.
        if equivariant {
            assert!(diff < 1e-5, "{diff}");
        } else {
            assert!(diff > 1e-3, "{diff}");
        }
    }
}

#[test]
fn cell_patches_change_only_their_cells() {
    let _g = seed_lock();
    let device = Device::flex();
    let m = decoder(Positions::Learned, 13, &device);
    let run = |hooks: &mut FfnHooks| logits(&m, tokens(&device), &AttnMask::Causal, hooks);
    let mut clean = FfnHooks::recording();
    let base = run(&mut clean);
    let cells: Vec<FfnCell> = vec![(0, 3, 5), (1, 6, 2), (0, 3, 17)];
    let values = [2.5f32, -1.0, 0.0];
    let mut patched = FfnHooks::recording().with_patch(FfnPatch::ReplaceCells {
        layer: 0,
        cells: cells.clone(),
        values: host::vector(values.to_vec(), &device),
    });
    let out = run(&mut patched);
    let [_, t, f] = clean.recorded[0].dims();
    let flat = |(b, p, n): FfnCell| (b * t + p) * f + n;
    // Layer 0: the chosen cells hold the values, every other cell is bit-identical.
    let (c0, p0) = (
        host::to_vec(clean.recorded[0].clone()),
        host::to_vec(patched.recorded[0].clone()),
    );
    for k in 0..c0.len() {
        match cells.iter().position(|&c| flat(c) == k) {
            Some(i) => assert_eq!(p0[k], values[i]),
            None => assert_eq!(p0[k], c0[k], "cell {k} changed"),
        }
    }
    // Later positions see the change through layer 1's causal attention, earlier ones do
    // not: row 0 changes from position 3 on, row 1 from position 6 on, in layer 1's
    // activations and in the logits.
    for (b, first) in [(0, 3), (1, 6)] {
        for p in 0..8 {
            let same_act = at(&clean.recorded[1], b, p) == at(&patched.recorded[1], b, p);
            let same_out = at(&base, b, p) == at(&out, b, p);
            assert_eq!(same_act, p < first, "layer 1, row {b} position {p}");
            assert_eq!(same_out, p < first, "logits, row {b} position {p}");
        }
    }
    // Cell records read the activations; scaling cells by 1 or replacing them by their
    // own values changes nothing, bit for bit.
    let mut own = FfnHooks::none().with_cell_record(0, cells.clone());
    run(&mut own);
    let own_values = own.cell_records[0].values.clone().unwrap();
    assert_eq!(
        host::to_vec(own_values.clone()),
        cells.iter().map(|&c| c0[flat(c)]).collect::<Vec<_>>()
    );
    for patch in [
        FfnPatch::ScaleCells {
            layer: 0,
            cells: cells.clone(),
            factors: Tensor::ones([3], &device),
        },
        FfnPatch::ReplaceCells {
            layer: 0,
            cells: cells.clone(),
            values: own_values.clone(),
        },
    ] {
        let y = run(&mut FfnHooks::none().with_patch(patch));
        assert_eq!(host::to_vec(y), host::to_vec(base.clone()));
    }
    // Scaling by 0.5 halves exactly those cells.
    let mut half = FfnHooks::recording().with_patch(FfnPatch::ScaleCells {
        layer: 0,
        cells: cells.clone(),
        factors: host::vector(vec![0.5; 3], &device),
    });
    run(&mut half);
    let h0 = host::to_vec(half.recorded[0].clone());
    for k in 0..c0.len() {
        let scale = if cells.iter().any(|&c| flat(c) == k) {
            0.5
        } else {
            1.0
        };
        assert_eq!(h0[k], c0[k] * scale);
    }
}

#[test]
fn replaced_cell_gradients_match_finite_differences() {
    let _g = seed_lock();
    let device = Device::flex().autodiff();
    let m = decoder(Positions::Rope { base: 10000.0 }, 17, &device);
    let cells: Vec<FfnCell> = vec![(0, 2, 3), (1, 5, 0), (0, 6, 11)];
    let mut noise = Noise::new(3);
    // loss = sum(logits * w) with fixed w, so every output position counts.
    let w = Tensor::<3>::from_data(
        TensorData::new(noise.normal_vec(2 * 8 * VOCAB), [2, 8, VOCAB]),
        &device,
    );
    let loss = |values: Tensor<1>| {
        let mut hooks = FfnHooks::none().with_patch(FfnPatch::ReplaceCells {
            layer: 0,
            cells: cells.clone(),
            values,
        });
        (logits(&m, tokens(&device), &AttnMask::Causal, &mut hooks) * w.clone()).sum()
    };
    let v0 = vec![0.3f32, -0.7, 1.1];
    let leaf = host::vector(v0.clone(), &device).require_grad();
    let grads = loss(leaf.clone()).backward();
    let auto = host::to_vec(leaf.grad(&grads).expect("values receive a gradient"));
    // Central differences in f32: h = 1e-2 keeps the O(h^2) truncation and the O(eps/h)
    // rounding (loss of order 10, eps 6e-8) both near 1e-4; the tolerance is 2% + 1e-3.
    let h = 1e-2f32;
    for i in 0..3 {
        let shifted = |d: f32| {
            let mut v = v0.clone();
            v[i] += d;
            loss(host::vector(v, &device)).into_scalar::<f32>()
        };
        let fd = (shifted(h) - shifted(-h)) / (2.0 * h);
        assert!(
            (fd - auto[i]).abs() <= 0.02 * fd.abs() + 1e-3,
            "cell {i}: autodiff {} vs finite difference {fd}",
            auto[i]
        );
        assert!(fd.abs() > 1e-3, "the cell must matter ({fd})");
    }
}

#[test]
fn greedy_decoding_matches_a_manual_argmax_loop() {
    let _g = seed_lock();
    let device = Device::flex();
    for positions in [Positions::Rope { base: 10000.0 }, Positions::Learned] {
        let m = decoder(positions, 29, &device);
        let prompt = ids_tensor(&[vec![1, 5, 2], vec![7, 7, 3]], &device);
        let got = m.greedy(prompt, 6, None).unwrap();
        for (row, start) in [[1i64, 5, 2], [7, 7, 3]].iter().enumerate() {
            let mut seq = start.to_vec();
            for _ in 0..6 {
                let y = logits(
                    &m,
                    ids_tensor(&[seq.clone()], &device),
                    &AttnMask::Causal,
                    &mut FfnHooks::none(),
                );
                let last = at(&y, 0, seq.len() - 1);
                let best = (0..VOCAB).fold(0, |b, j| if last[j] > last[b] { j } else { b });
                seq.push(best as i64);
            }
            let manual: Vec<u32> = seq[3..].iter().map(|&x| x as u32).collect();
            assert_eq!(got[row], manual);
            // Stopping at the third new token keeps it and ends the row there.
            let stop = manual[2];
            let first_stop = manual.iter().position(|&x| x == stop).unwrap();
            let stopped = m
                .greedy(ids_tensor(&[start.to_vec()], &device), 6, Some(stop))
                .unwrap();
            assert_eq!(stopped[0], manual[..=first_stop]);
        }
    }
    // max_len 32: a prompt of 3 and 30 new tokens needs 32 positions, 31 new need 33.
    let m = decoder(Positions::Learned, 29, &device);
    let prompt = ids_tensor(&[vec![1, 5, 2]], &device);
    assert!(m.greedy(prompt.clone(), 30, Some(0)).is_ok());
    assert!(matches!(
        m.greedy(prompt, 31, None),
        Err(repro_core::lm::LmError::TooLong {
            needed: 33,
            max_len: 32,
            ..
        })
    ));
}

#[test]
fn bad_decoder_input_is_an_error() {
    let _g = seed_lock();
    let device = Device::flex();
    let m = decoder(Positions::Learned, 1, &device);
    let none = &mut FfnHooks::none();
    let vectors = DecoderInput::Vectors(Tensor::zeros([1, 4, 3], &device));
    assert_eq!(
        m.try_forward(vectors, 0, &AttnMask::Causal, none)
            .map(|_| ()),
        Err(NnError::InputKind)
    );
    let ids = || DecoderInput::Tokens(tokens(&device));
    assert_eq!(
        m.try_forward(ids(), 30, &AttnMask::Causal, none)
            .map(|_| ()),
        Err(NnError::TooLong {
            start_pos: 30,
            end: 38,
            max_len: 32
        })
    );
    let mut far = FfnHooks::none().with_patch(FfnPatch::Scale {
        layer: 2,
        factors: Tensor::ones([2, 8, 24], &device),
    });
    assert_eq!(
        m.try_forward(ids(), 0, &AttnMask::Causal, &mut far)
            .map(|_| ()),
        Err(NnError::HookLayer {
            layer: 2,
            n_layers: 2
        })
    );
    let mut wrong = FfnHooks::none().with_patch(FfnPatch::Replace {
        layer: 0,
        values: Tensor::ones([2, 8, 16], &device),
    });
    assert!(matches!(
        m.try_forward(ids(), 0, &AttnMask::Causal, &mut wrong),
        Err(NnError::HookShape {
            layer: 0,
            what: "values",
            ..
        })
    ));
    let vec_model = DecoderConfig::new(0)
        .with_d_in(3)
        .with_d_out(2)
        .with_d_model(8)
        .with_n_heads(2)
        .init(&device);
    let wide = DecoderInput::Vectors(Tensor::zeros([1, 4, 5], &device));
    assert_eq!(
        vec_model
            .try_forward(wide, 0, &AttnMask::Causal, none)
            .map(|_| ()),
        Err(NnError::InputShape {
            expected: "[batch, T, 3]".into(),
            got: vec![1, 4, 5]
        })
    );
    assert!(matches!(
        DecoderConfig::new(0).with_d_out(2).try_init(&device),
        Err(NnError::Config(m)) if m.contains("vocab_size or d_in")
    ));
}
