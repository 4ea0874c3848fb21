//! Same seed, identical weights (in a process of its own, as the spec asks; the linear
//! model's initialisation is drawn on the host, so Burn's global generator plays no part).

use burn::tensor::Device;
use repro_llm_issues::classifier::{LinearTextConfig, train_linear};
use repro_llm_issues::synthetic::three_class_docs;
use repro_llm_issues::text::Doc;

#[test]
fn same_seed_gives_identical_weights() {
    let (docs, y): (Vec<Doc>, Vec<usize>) = three_class_docs(10, 3).into_iter().unzip();
    let classes: Vec<String> = ["bug", "feature", "question"].map(String::from).to_vec();
    let cfg = LinearTextConfig {
        n_buckets: 1 << 12,
        epochs: 30,
        ..LinearTextConfig::default()
    };
    let run = |seed| train_linear(&cfg, &docs, &y, &classes, &Device::flex(), seed).unwrap();
    let (a, b, c) = (run(5), run(5), run(6));
    assert_eq!(a.weight, b.weight);
    assert_eq!(a.bias, b.bias);
    assert_eq!(a.losses, b.losses);
    assert_ne!(a.weight, c.weight);
}
