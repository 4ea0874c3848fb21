//! End to end through repro-core: digits data and split, a hand-written training loop with
//! the `train` helpers, `metrics`, and a written report. Also checkpoint/resume: a run cut in
//! two and resumed from disk gives the same numbers as an uninterrupted one.

use burn::module::Module;
use burn::nn::loss::CrossEntropyLossConfig;
use burn::nn::{Linear, LinearConfig};
use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Int, Tensor};
use repro_core::data::digits;
use repro_core::data::split::stratified_split;
use repro_core::device::{init_params_now, seed, seed_lock};
use repro_core::metrics::{accuracy, argmax_rows};
use repro_core::report::{Claim, Options, Plot, Profile, Report, Verdict};
use repro_core::testing::TempDir;
use repro_core::train::{
    BestTracker, Checkpoint, Goal, LrSchedule, ensure_finite, minibatches, optim,
};

#[derive(Module, Debug)]
struct Mlp {
    hidden: Linear,
    out: Linear,
}

impl Mlp {
    fn new(device: &Device) -> Self {
        Self {
            hidden: LinearConfig::new(64, 128).init(device),
            out: LinearConfig::new(128, 10).init(device),
        }
    }

    /// `[batch, 64]` -> `[batch, 10]` logits.
    fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        self.out.forward(relu(self.hidden.forward(x)))
    }
}

struct Data {
    x_train: Tensor<2>,
    y_train: Tensor<1, Int>,
    x_val: Tensor<2>,
    y_val: Vec<u8>,
}

fn data(device: &Device) -> (Data, digits::Digits, Vec<usize>) {
    let d = digits::load().unwrap();
    let split = digits::standard_split(&d);
    // Validation for model selection comes out of the training part only.
    let train_labels: Vec<usize> = split
        .train
        .iter()
        .map(|&i| usize::from(d.labels[i]))
        .collect();
    let inner = stratified_split(&train_labels, 197, 1);
    let fit: Vec<usize> = inner.train.iter().map(|&j| split.train[j]).collect();
    let val: Vec<usize> = inner.test.iter().map(|&j| split.train[j]).collect();
    let (x_train, y_train) = d.tensors(&fit, device);
    let (x_val, _) = d.tensors(&val, device);
    let y_val = val.iter().map(|&i| d.labels[i]).collect();
    (
        Data {
            x_train,
            y_train,
            x_val,
            y_val,
        },
        d,
        split.test,
    )
}

/// Runs epochs `from..to`, returning the model, optimiser and per-epoch mean losses.
fn epochs(
    mut model: Mlp,
    mut opt: ModuleOptimizer,
    data: &Data,
    schedule: &LrSchedule,
    range: std::ops::Range<usize>,
    best: &mut BestTracker<Mlp>,
) -> (Mlp, ModuleOptimizer, Vec<f64>) {
    let device = data.x_train.device();
    let loss_fn = CrossEntropyLossConfig::new().init(&device);
    let n = data.x_train.dims()[0];
    let mut losses = Vec::new();
    let mut step = range.start * n.div_ceil(64);
    for epoch in range {
        let mut total = 0.0;
        let batches = minibatches(n, 64, epoch as u64);
        for b in &batches {
            let idx = Tensor::<1, Int>::from_data(
                b.iter().map(|&i| i as i64).collect::<Vec<_>>().as_slice(),
                &device,
            );
            let logits = model.forward(data.x_train.clone().select(0, idx.clone()));
            let loss = loss_fn.forward(logits, data.y_train.clone().select(0, idx));
            total += ensure_finite("loss", step, loss.clone().into_scalar::<f64>()).unwrap();
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            model = opt.step(schedule.lr(step), model, grads);
            step += 1;
        }
        losses.push(total / batches.len() as f64);
        let pred = argmax_rows(model.valid().forward(data.x_val.clone()));
        let truth: Vec<usize> = data.y_val.iter().map(|&y| usize::from(y)).collect();
        best.offer(epoch, accuracy(&pred, &truth), || model.clone());
    }
    (model, opt, losses)
}

const EPOCHS: usize = 30;

fn fresh(device: &Device) -> (Mlp, ModuleOptimizer) {
    seed(device, 42);
    (init_params_now(Mlp::new(device)), optim::adamw(1e-4).init())
}

fn schedule() -> LrSchedule {
    LrSchedule::Cosine {
        lr: 3e-3,
        min_lr: 1e-4,
        warmup: 20,
        total: EPOCHS * 18,
    }
}

#[test]
fn digits_classifier_reaches_093_and_reports() {
    let _g = seed_lock();
    let device = Device::flex().autodiff();
    let (data, d, test) = data(&device);
    let (model, opt) = fresh(&device);
    let mut best = BestTracker::new(Goal::Maximize);
    let (_, _, losses) = epochs(model, opt, &data, &schedule(), 0..EPOCHS, &mut best);
    assert!(
        losses[EPOCHS - 1] < 0.5 * losses[0],
        "loss must fall: {losses:?}"
    );

    let (best_epoch, val_acc, model) = best.into_best().unwrap();
    let (x_test, _) = d.tensors(&test, &Device::flex());
    let model = model.valid();
    let test_acc = accuracy(
        &argmax_rows(model.forward(x_test)),
        &test
            .iter()
            .map(|&i| usize::from(d.labels[i]))
            .collect::<Vec<_>>(),
    );
    // Issue #2: the stack must reach 0.93 on the fixed split (a linear model gets ~0.95).
    eprintln!(
        "best epoch {best_epoch}, val {val_acc:.4}, test {test_acc:.4}, losses {:.3?}",
        &losses[..3]
    );
    assert!(test_acc >= 0.93, "test accuracy {test_acc}");

    let mut opts = Options::new(Profile::Smoke);
    opts.progress = false;
    let mut report = Report::new("digits-mlp", &opts, serde_json::json!({"epochs": EPOCHS}));
    report.seeds = vec![42];
    report.push_result(
        serde_json::json!({"best_epoch": best_epoch, "val_acc": val_acc, "test_acc": test_acc}),
    );
    report.claims.push(
        Claim::new("C1", "an MLP learns digits", "test accuracy >= 0.93")
            .measure("test_acc", test_acc)
            .decide(test_acc >= 0.93),
    );
    report.plots.push(
        Plot::line("loss", "Training loss", "epoch", "loss").series(
            "mlp",
            losses
                .iter()
                .enumerate()
                .map(|(i, &l)| (i as f64, l))
                .collect(),
        ),
    );
    let report = report.finish();
    let tmp = TempDir::new("digits-report");
    report.write(tmp.path()).unwrap();
    let back = Report::read(&tmp.path().join("report.json")).unwrap();
    assert_eq!(back.claims[0].verdict, Verdict::Reproduced);
    assert!(tmp.path().join("loss.svg").is_file());
}

#[test]
fn resumed_run_equals_uninterrupted_run() {
    let _g = seed_lock();
    let device = Device::flex().autodiff();
    let (data, _, _) = data(&device);
    let sched = schedule();

    let (model, opt) = fresh(&device);
    let (_, _, straight) = epochs(
        model,
        opt,
        &data,
        &sched,
        0..4,
        &mut BestTracker::new(Goal::Maximize),
    );

    let tmp = TempDir::new("ckpt");
    let ckpt = Checkpoint::new(tmp.path().join("run"));
    let (model, opt) = fresh(&device);
    let (model, opt, first) = epochs(
        model,
        opt,
        &data,
        &sched,
        0..2,
        &mut BestTracker::new(Goal::Maximize),
    );
    ckpt.save(&model, &opt, &(2usize, first.clone())).unwrap();
    drop((model, opt));

    // A fresh process would rebuild model and optimiser from config, then load.
    let (model, opt) = fresh(&device);
    let (model, opt, (next_epoch, mut history)) = ckpt
        .load::<_, (usize, Vec<f64>)>(model, opt)
        .unwrap()
        .expect("checkpoint exists");
    let (_, _, rest) = epochs(
        model,
        opt,
        &data,
        &sched,
        next_epoch..4,
        &mut BestTracker::new(Goal::Maximize),
    );
    history.extend(rest);
    assert_eq!(
        history, straight,
        "resumed losses must equal the uninterrupted run's"
    );
    assert!(
        Checkpoint::new(tmp.path().join("none"))
            .load::<_, usize>(fresh(&device).0, fresh(&device).1)
            .unwrap()
            .is_none()
    );
}

/// A process killed inside `Checkpoint::save` (new weights renamed into place, optimiser
/// and `state.json` not yet) leaves no checkpoint that `load` accepts; the run restarts.
/// The test re-runs its own binary with the kill point set: the child aborts mid-save.
#[test]
fn a_checkpoint_killed_mid_save_is_not_loaded() {
    const CHILD: &str = "REPRO_TEST_CHECKPOINT_CHILD";
    let _g = seed_lock();
    let device = Device::flex().autodiff();
    if let Some(dir) = std::env::var_os(CHILD) {
        let ckpt = Checkpoint::new(std::path::PathBuf::from(dir));
        let (model, opt) = fresh(&device);
        ckpt.save(&model, &opt, &1usize).unwrap();
        // With the kill point set the second save dies after its first rename.
        ckpt.save(&model, &opt, &2usize).unwrap();
        return;
    }
    let tmp = TempDir::new("ckpt-kill");
    let dir = tmp.path().join("run");
    let status = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "a_checkpoint_killed_mid_save_is_not_loaded",
            "--test-threads",
            "1",
        ])
        .env(CHILD, &dir)
        .env(repro_core::testing::KILL_AT_ENV, "checkpoint-renames:3")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(!status.success(), "the kill point was not reached");
    // The first save was complete; the second removed its state.json before renaming.
    assert!(dir.join("model.bpk").is_file());
    let ckpt = Checkpoint::new(dir);
    assert!(!ckpt.exists());
    let (model, opt) = fresh(&device);
    assert!(ckpt.load::<_, usize>(model, opt).unwrap().is_none());
}
