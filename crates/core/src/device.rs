//! Devices, seeding and eager parameter initialisation.
//!
//! Burn 0.22 has one runtime [`Device`]; which backends exist depends on Cargo features.
//! `flex` (pure-Rust CPU) is always compiled; `ndarray`, `wgpu` and `cuda` are opt-in
//! features of this crate. Library code uses [`Device::flex()`]; a binary turns a user's
//! flag into a device with [`DeviceChoice`].

use std::fmt;
use std::str::FromStr;

use burn::module::{Module, ModuleVisitor, Param};
use burn::tensor::{Device, Tensor};

/// A device named on the command line: `cpu` (= `flex`), `flex`, `ndarray`, `wgpu[:N]`,
/// `cuda[:N]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceChoice {
    /// Burn's pure-Rust CPU backend (the default).
    Flex,
    /// The deprecated ndarray CPU backend (feature `ndarray`).
    Ndarray,
    /// A wgpu adapter (feature `wgpu`); `None` is the default adapter.
    Wgpu(Option<usize>),
    /// A CUDA device by index (feature `cuda`).
    Cuda(usize),
}

/// A device string that cannot be used in this build.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeviceError {
    /// Not a device name.
    #[error("unknown device `{0}`: expected cpu, flex, ndarray, wgpu[:N] or cuda[:N]")]
    Unknown(String),
    /// Bad `:N` suffix.
    #[error("device `{0}`: the index after ':' must be a non-negative integer")]
    BadIndex(String),
    /// The backend's Cargo feature is off in this build.
    #[error(
        "device `{device}` needs the `{feature}` feature, which this build lacks: \
         run `cargo xtask reproduce ... --device {device}` (it rebuilds with the feature in \
         target/gpu) or build with `--features {feature}`"
    )]
    NotCompiled {
        /// The device asked for.
        device: String,
        /// The Cargo feature it needs.
        feature: &'static str,
    },
}

impl FromStr for DeviceChoice {
    type Err = DeviceError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let lower = s.trim().to_ascii_lowercase();
        let (name, index) = match lower.split_once(':') {
            Some((n, i)) => {
                let i = i
                    .parse::<usize>()
                    .map_err(|_| DeviceError::BadIndex(s.to_owned()))?;
                (n.to_owned(), Some(i))
            }
            None => (lower, None),
        };
        match (name.as_str(), index) {
            ("cpu" | "flex", None) => Ok(Self::Flex),
            ("ndarray", None) => Ok(Self::Ndarray),
            ("wgpu" | "gpu-wgpu", i) => Ok(Self::Wgpu(i)),
            ("cuda" | "gpu", i) => Ok(Self::Cuda(i.unwrap_or(0))),
            ("cpu" | "flex" | "ndarray", Some(_)) => Err(DeviceError::BadIndex(s.to_owned())),
            _ => Err(DeviceError::Unknown(s.to_owned())),
        }
    }
}

impl fmt::Display for DeviceChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Flex => write!(f, "flex"),
            Self::Ndarray => write!(f, "ndarray"),
            Self::Wgpu(None) => write!(f, "wgpu"),
            Self::Wgpu(Some(i)) => write!(f, "wgpu:{i}"),
            Self::Cuda(i) => write!(f, "cuda:{i}"),
        }
    }
}

impl DeviceChoice {
    /// The Cargo feature the backend needs, `None` for the always-built flex.
    pub fn feature(&self) -> Option<&'static str> {
        match self {
            Self::Flex => None,
            Self::Ndarray => Some("ndarray"),
            Self::Wgpu(_) => Some("wgpu"),
            Self::Cuda(_) => Some("cuda"),
        }
    }

    /// Whether this build can create the device.
    pub fn is_compiled(&self) -> bool {
        match self {
            Self::Flex => true,
            Self::Ndarray => cfg!(feature = "ndarray"),
            Self::Wgpu(_) => cfg!(feature = "wgpu"),
            Self::Cuda(_) => cfg!(feature = "cuda"),
        }
    }

    /// The Burn device (without autodiff).
    pub fn device(&self) -> Result<Device, DeviceError> {
        if !self.is_compiled() {
            return Err(DeviceError::NotCompiled {
                device: self.to_string(),
                feature: self.feature().unwrap_or("flex"),
            });
        }
        Ok(match self {
            Self::Flex => Device::flex(),
            #[cfg(feature = "ndarray")]
            #[allow(deprecated)]
            Self::Ndarray => Device::ndarray(),
            #[cfg(feature = "wgpu")]
            Self::Wgpu(None) => Device::wgpu(burn::tensor::DeviceKind::DefaultDevice),
            #[cfg(feature = "wgpu")]
            Self::Wgpu(Some(i)) => Device::wgpu(burn::tensor::DeviceKind::DiscreteGpu(*i)),
            #[cfg(feature = "cuda")]
            Self::Cuda(i) => Device::cuda(*i),
            #[allow(unreachable_patterns)]
            _ => unreachable!("is_compiled() checked the feature"),
        })
    }
}

/// Seeds the device's random generator. Call once per run, before building models, then
/// [`init_params_now`] so parameter draws happen in a known order.
///
/// Flex's generator is process-wide: seeded code running in parallel threads races. Tests
/// that compare two seeded runs hold [`seed_lock`] for their duration.
pub fn seed(device: &Device, seed: u64) {
    device.seed(seed);
}

/// A process-wide lock for code that seeds Burn's global generator and needs the draws
/// that follow to be its own (reruns compared bit for bit).
///
/// The lock only protects against code that also takes it: in a test binary where one test
/// compares seeded runs, **every** test that draws from Burn's generator (module `init`,
/// [`seed`], `Tensor::random`, dropout in training mode, a reproduction) holds it too, or
/// its draws can land between another test's seed and its initialisation. The lock is not
/// reentrant: take it once, at the top of the test. Library code never takes it.
pub fn seed_lock() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Draws every lazily initialised parameter now, in module order.
///
/// Burn 0.22 initialises parameters on first use, so `seed(7); init(); seed(7); init()`
/// gives different weights unless both are materialised right after seeding.
pub fn init_params_now<M: Module>(module: M) -> M {
    struct Touch;
    impl ModuleVisitor for Touch {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            let _ = param.val();
        }
    }
    module.visit(&mut Touch);
    module
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::nn::LinearConfig;

    #[test]
    fn parses_device_names() {
        assert_eq!("cpu".parse::<DeviceChoice>().unwrap(), DeviceChoice::Flex);
        assert_eq!("FLEX".parse::<DeviceChoice>().unwrap(), DeviceChoice::Flex);
        assert_eq!(
            "cuda".parse::<DeviceChoice>().unwrap(),
            DeviceChoice::Cuda(0)
        );
        assert_eq!(
            "cuda:2".parse::<DeviceChoice>().unwrap(),
            DeviceChoice::Cuda(2)
        );
        assert_eq!(
            "wgpu".parse::<DeviceChoice>().unwrap(),
            DeviceChoice::Wgpu(None)
        );
        assert_eq!(
            "wgpu:1".parse::<DeviceChoice>().unwrap(),
            DeviceChoice::Wgpu(Some(1))
        );
        assert!(matches!(
            "tpu".parse::<DeviceChoice>(),
            Err(DeviceError::Unknown(_))
        ));
        assert!(matches!(
            "cuda:x".parse::<DeviceChoice>(),
            Err(DeviceError::BadIndex(_))
        ));
        assert!(matches!(
            "cpu:1".parse::<DeviceChoice>(),
            Err(DeviceError::BadIndex(_))
        ));
        assert_eq!(DeviceChoice::Cuda(3).to_string(), "cuda:3");
    }

    #[test]
    fn missing_feature_is_a_clear_error() {
        assert!(DeviceChoice::Flex.device().is_ok());
        if !cfg!(feature = "cuda") {
            let msg = DeviceChoice::Cuda(0).device().unwrap_err().to_string();
            assert!(msg.contains("`cuda` feature"), "{msg}");
        }
    }

    #[test]
    fn seeded_init_is_reproducible() {
        let _guard = seed_lock();
        let device = Device::flex();
        let draw = || {
            seed(&device, 7);
            let l = init_params_now(LinearConfig::new(4, 3).init(&device));
            l.weight.val().into_data().try_to_vec::<f32>().unwrap()
        };
        let (a, b) = (draw(), draw());
        assert_eq!(a, b);
        seed(&device, 8);
        let c = init_params_now(LinearConfig::new(4, 3).init(&device));
        assert_ne!(a, c.weight.val().into_data().try_to_vec::<f32>().unwrap());
    }
}
