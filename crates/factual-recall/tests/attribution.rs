//! Integrated gradients, its leaf and the edits (spec §7): completeness on a random decoder,
//! exactness on a mock whose probability is linear in the activations, the leaf gradient
//! against central finite differences, and edits that touch only their cells.

use burn::module::Module;
use burn::tensor::{Bool, Device, Int, Tensor, TensorData};
use repro_core::device::{init_params_now, seed, seed_lock};
use repro_core::host;
use repro_core::nn::NnError;
use repro_core::nn::decoder::{Decoder, DecoderConfig, FfnHooks, FfnPatch};
use repro_factual_recall::KnError;
use repro_factual_recall::attribution::{
    FfnModel, IgConfig, IgRule, Neuron, Target, activations_at, ig_all_layers, ig_attribution,
    ig_batch, replaced_prob,
};
use repro_factual_recall::edit::{Edit, EditedLm, Intervention, Probe, gold_prob, gold_probs};

const PROMPT: [u32; 5] = [1, 7, 3, 9, 4];

/// A random 2-layer decoder (vocabulary 12, d 16, d_ff 32), seeded, on `device`.
fn decoder(device: &Device, s: u64) -> Decoder {
    seed(device, s);
    init_params_now(
        DecoderConfig::new(12)
            .with_d_model(16)
            .with_n_heads(2)
            .with_n_layers(2)
            .with_d_ff(32)
            .with_max_len(32)
            .init(device),
    )
}

/// The token the random model finds most likely after PROMPT (its probability is far from
/// 0, so differences of P are well above f32 noise).
fn likely_gold(model: &Decoder) -> u32 {
    let logits = model.ffn_logits(
        Tensor::<2, Int>::from_data(
            TensorData::new(
                PROMPT.iter().map(|&x| i64::from(x)).collect::<Vec<_>>(),
                [1, 5],
            ),
            &model.device(),
        ),
        &mut FfnHooks::none(),
    );
    let v = host::to_vec(
        logits
            .unwrap()
            .slice([0..1, 4..5])
            .reshape([12])
            .without_autodiff(),
    );
    (0..12).fold(0, |m, j| if v[j] > v[m] { j } else { m }) as u32
}

#[test]
fn ig_is_complete_at_m512_and_left_riemann_error_halves_from_20_to_40() {
    let _g = seed_lock();
    let device = Device::flex().autodiff();
    let model = decoder(&device, 3).no_grad();
    let gold = likely_gold(&model);
    let target = Target::last(PROMPT.to_vec(), gold);
    for layer in 0..2 {
        let a = activations_at(&model, &[PROMPT.to_vec()], &[(0, 4)]).unwrap()[0][layer].clone();
        let (p_a, _) = replaced_prob(&model, &target, layer, &a).unwrap();
        let (p_0, _) = replaced_prob(&model, &target, layer, &[0.0; 32]).unwrap();
        let delta = f64::from(p_a - p_0);
        assert!(
            delta.abs() > 1e-3,
            "layer {layer}: P(a) − P(0) = {delta} too small to test"
        );
        let sum = |m: usize| -> f64 {
            let cfg = IgConfig {
                steps: m,
                rule: IgRule::LeftRiemann,
            };
            ig_attribution(&model, &PROMPT, gold, layer, &cfg)
                .unwrap()
                .iter()
                .map(|&x| f64::from(x))
                .sum()
        };
        // Completeness: the left Riemann sum's error is O(1/m); at m = 512 it is within 1%.
        let s512 = sum(512);
        assert!(
            (s512 - delta).abs() <= 0.01 * delta.abs(),
            "layer {layer}: Σ attr = {s512}, P(a) − P(0) = {delta}"
        );
        // The leading error term is (f(1) − f(0))/(2m)-like: doubling m roughly halves it
        // (ratio in [1.5, 2.5]).
        let (e20, e40) = ((sum(20) - delta).abs(), (sum(40) - delta).abs());
        let ratio = e20 / e40;
        assert!(
            (1.5..=2.5).contains(&ratio),
            "layer {layer}: errors {e20} / {e40} = {ratio}"
        );
    }
}

#[test]
fn leaf_gradient_matches_central_finite_differences() {
    let _g = seed_lock();
    let device = Device::flex().autodiff();
    let model = decoder(&device, 5).no_grad();
    let gold = likely_gold(&model);
    let target = Target::last(PROMPT.to_vec(), gold);
    let a = activations_at(&model, &[PROMPT.to_vec()], &[(0, 4)]).unwrap()[0][0].clone();
    let (_, grad) = replaced_prob(&model, &target, 0, &a).unwrap();
    // The 5 neurons with the largest |gradient| (small ones drown in f32 noise).
    let mut order: Vec<usize> = (0..32).collect();
    order.sort_by(|&i, &j| grad[j].abs().total_cmp(&grad[i].abs()));
    let h = 1e-3f32;
    for &i in &order[..5] {
        let shifted = |d: f32| {
            let mut v = a.clone();
            v[i] += d;
            f64::from(replaced_prob(&model, &target, 0, &v).unwrap().0)
        };
        let fd = (shifted(h) - shifted(-h)) / (2.0 * f64::from(h));
        let g = f64::from(grad[i]);
        assert!(
            (g - fd).abs() <= 1e-2 * g.abs(),
            "neuron {i}: leaf {g}, FD {fd}"
        );
    }
}

/// One layer, `d_ff = 3`, vocabulary 2: the activations are the fixed `A` at every
/// position, and `P(token 0) = C0 + Σ_i C_i a_i` (logits `ln p`, `ln(1 − p)`), linear in
/// the activations of the last position. Honours `ReplaceCells` at the last position and
/// recording.
struct LinearMock {
    device: Device,
}

const A: [f32; 3] = [0.5, -1.0, 2.0];
const C: [f32; 3] = [0.04, 0.1, -0.05];
const C0: f32 = 0.5;

impl FfnModel for LinearMock {
    fn ffn_logits(&self, ids: Tensor<2, Int>, hooks: &mut FfnHooks) -> Result<Tensor<3>, NnError> {
        let [b, t] = ids.dims();
        let d = &self.device;
        let mut act = Tensor::<1>::from_data(TensorData::new(A.repeat(b * t), [b * t * 3]), d);
        for p in &hooks.patches {
            if let FfnPatch::ReplaceCells { cells, values, .. } = p {
                let offsets: Vec<usize> = cells
                    .iter()
                    .map(|&(r, pos, n)| (r * t + pos) * 3 + n)
                    .collect();
                let mut hit = vec![false; b * t * 3];
                for &k in &offsets {
                    hit[k] = true;
                }
                let mask = Tensor::<1, Bool>::from_data(TensorData::new(hit, [b * t * 3]), d);
                let placed = Tensor::<1>::zeros([b * t * 3], d).select_assign(
                    0,
                    host::indices(&offsets, d),
                    values.clone(),
                    burn::tensor::IndexingUpdateOp::Add,
                );
                act = act.mask_where(mask, placed);
            }
        }
        let act = act.reshape([b, t, 3]);
        if hooks.record {
            hooks.recorded.push(act.clone());
        }
        let c = Tensor::<1>::from_data(TensorData::new(C.to_vec(), [3]), d).reshape([1, 1, 3]);
        let p = (act * c).sum_dim(2) + C0; // [b, t, 1]
        Ok(Tensor::cat(vec![p.clone().log(), (p.neg() + 1.0).log()], 2)) // [b, t, 2]
    }

    fn n_layers(&self) -> usize {
        1
    }

    fn d_ff(&self) -> usize {
        3
    }

    fn device(&self) -> Device {
        self.device.clone()
    }
}

#[test]
fn ig_is_exact_on_a_linear_mock_for_every_m_and_both_rules() {
    let mock = LinearMock {
        device: Device::flex().autodiff(),
    };
    for rule in [IgRule::LeftRiemann, IgRule::Linspace] {
        for m in [1, 2, 5, 20] {
            let attr =
                ig_attribution(&mock, &[1, 0, 1], 0, 0, &IgConfig { steps: m, rule }).unwrap();
            for i in 0..3 {
                // Attr_i = a_i · c_i: the gradient is c_i at every α.
                let want = A[i] * C[i];
                assert!(
                    (attr[i] - want).abs() < 1e-6,
                    "{rule:?} m={m} i={i}: {} vs {want}",
                    attr[i]
                );
            }
        }
    }
}

#[test]
fn batched_attribution_equals_one_at_a_time() {
    let _g = seed_lock();
    let device = Device::flex().autodiff();
    let model = decoder(&device, 7).no_grad();
    let cfg = IgConfig {
        steps: 4,
        rule: IgRule::LeftRiemann,
    };
    // Two prompts of different lengths (right padding) and both layers in one pass.
    let targets = vec![
        Target::last(PROMPT.to_vec(), 2),
        Target::last(vec![1, 5, 6], 8),
    ];
    let batched = ig_batch(&model, &targets, &[0, 1], &cfg).unwrap();
    for (t, target) in targets.iter().enumerate() {
        let alone = ig_all_layers(&model, &target.ids, target.gold, &cfg).unwrap();
        for l in 0..2 {
            for i in 0..32 {
                let (x, y) = (batched[t][l][i], alone[l][i]);
                assert!(
                    (x - y).abs() <= 1e-6 + 1e-4 * y.abs(),
                    "t{t} l{l} n{i}: {x} vs {y}"
                );
            }
        }
    }
}

#[test]
fn attribution_rejects_bad_input() {
    let _g = seed_lock();
    let device = Device::flex().autodiff();
    let model = decoder(&device, 1).no_grad();
    let cfg = IgConfig::default();
    assert_eq!(
        ig_attribution(
            &model,
            &PROMPT,
            2,
            0,
            &IgConfig {
                steps: 0,
                rule: IgRule::LeftRiemann
            }
        ),
        Err(KnError::ZeroSteps)
    );
    assert_eq!(
        ig_attribution(&model, &PROMPT, 2, 2, &cfg),
        Err(KnError::LayerOutOfRange {
            layer: 2,
            n_layers: 2
        })
    );
    assert_eq!(
        ig_attribution(&model, &[], 2, 0, &cfg),
        Err(KnError::EmptyPrompt { index: 0 })
    );
    assert_eq!(
        ig_attribution(&model, &PROMPT, 99, 0, &cfg),
        Err(KnError::TokenOutOfRange { id: 99, vocab: 12 })
    );
    let plain = model.valid();
    let e = ig_attribution(&plain, &PROMPT, 2, 0, &cfg).unwrap_err();
    assert_eq!(e, KnError::NotAutodiff);
    assert!(e.to_string().contains("autodiff device"), "{e}");
    let msg = KnError::LayerOutOfRange {
        layer: 2,
        n_layers: 2,
    }
    .to_string();
    assert!(msg.contains("layer 2") && msg.contains("2 layers"), "{msg}");
}

#[test]
fn edits_change_only_their_cells() {
    let _g = seed_lock();
    let device = Device::flex();
    let model = decoder(&device, 9);
    let ids = Tensor::<2, Int>::from_data(
        TensorData::new(
            PROMPT.iter().map(|&x| i64::from(x)).collect::<Vec<_>>(),
            [1, 5],
        ),
        &device,
    );
    let mut rec = FfnHooks::recording();
    let base = model.ffn_logits(ids.clone(), &mut rec).unwrap();
    let close = |a: &Tensor<3>, b: &Tensor<3>, tol: f32| {
        let d = (a.clone() - b.clone()).abs().max().into_scalar::<f32>();
        assert!(d <= tol, "max |Δlogit| = {d}");
    };
    // Replace with the recorded activations reproduces the unhooked logits (≤ 1e-6).
    let mut replace = FfnHooks::none().with_patch(FfnPatch::Replace {
        layer: 1,
        values: rec.recorded[1].clone(),
    });
    close(
        &model.ffn_logits(ids.clone(), &mut replace).unwrap(),
        &base,
        1e-6,
    );
    // Scale(1.0) on every cell of layer 0 is the identity.
    let all: Vec<Neuron> = (0..32).map(|i| Neuron::new(0, i)).collect();
    let every = |edit| {
        vec![vec![Intervention {
            neurons: all.clone(),
            positions: (0..5).collect(),
            edit,
        }]]
    };
    let one = EditedLm::new(&model, every(Edit::Scale(1.0))).unwrap();
    close(&one.try_logits(ids.clone()).unwrap(), &base, 0.0);
    // Suppressing every neuron of layer 0 everywhere is the FFN emitting only its output
    // bias: the same as replacing its activations by zeros.
    let zero = EditedLm::new(&model, every(Edit::Suppress)).unwrap();
    let mut zeros = FfnHooks::none().with_patch(FfnPatch::Replace {
        layer: 0,
        values: rec.recorded[0].zeros_like(),
    });
    close(
        &zero.try_logits(ids.clone()).unwrap(),
        &model.ffn_logits(ids.clone(), &mut zeros).unwrap(),
        1e-6,
    );
    // An edit at position 3 leaves positions 0..3 bit for bit and changes position 3.
    let at3 = EditedLm::new(
        &model,
        vec![vec![Intervention {
            neurons: all[..8].to_vec(),
            positions: vec![3],
            edit: Edit::Enhance,
        }]],
    )
    .unwrap()
    .try_logits(ids.clone())
    .unwrap();
    close(
        &at3.clone().slice([0..1, 0..3]),
        &base.clone().slice([0..1, 0..3]),
        0.0,
    );
    let moved = (at3.slice([0..1, 3..4]) - base.slice([0..1, 3..4]))
        .abs()
        .max()
        .into_scalar::<f32>();
    assert!(moved > 1e-5, "the edited position must change ({moved})");
}

#[test]
fn gold_probabilities_follow_per_row_edits_and_reject_bad_neurons() {
    let _g = seed_lock();
    let device = Device::flex();
    let model = decoder(&device, 11);
    let kn = vec![Neuron::new(1, 3), Neuron::new(1, 17)];
    let iv = vec![Intervention {
        neurons: kn.clone(),
        positions: vec![4],
        edit: Edit::Suppress,
    }];
    let alone = gold_prob(&model, &PROMPT, 6, &iv).unwrap();
    let plain = gold_prob(&model, &PROMPT, 6, &[]).unwrap();
    // Row 0 unedited, row 1 suppressed, row 2 a shorter prompt unedited: each equals its
    // single-row value.
    let probes = vec![
        Probe::last(PROMPT.to_vec(), 6),
        Probe::last(PROMPT.to_vec(), 6),
        Probe::last(vec![1, 2], 6),
    ];
    let p = gold_probs(&model, &probes, &[vec![], iv.clone(), vec![]]).unwrap();
    let short = gold_prob(&model, &[1, 2], 6, &[]).unwrap();
    for (x, y) in [(p[0], plain), (p[1], alone), (p[2], short)] {
        assert!((x - y).abs() < 1e-6, "{x} vs {y}");
    }
    assert!((alone - plain).abs() > 1e-7);
    let bad = vec![Intervention {
        neurons: vec![Neuron::new(1, 32)],
        positions: vec![0],
        edit: Edit::Enhance,
    }];
    assert_eq!(
        gold_prob(&model, &PROMPT, 6, &bad),
        Err(KnError::NeuronOutOfRange {
            layer: 1,
            index: 32,
            d_ff: 32
        })
    );
    assert!(matches!(
        gold_probs(&model, &probes, &[vec![], vec![]]),
        Err(KnError::Shape(_))
    ));
}
