//! Errors of the library: bad input to attribution, neuron selection, edits and the
//! knowledge base, each message naming what was wrong.

use repro_core::nn::NnError;

/// What the knowledge-neuron functions reject.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum KnError {
    /// Integrated gradients with no steps.
    #[error("integrated gradients needs at least one step (m = 0 given)")]
    ZeroSteps,
    /// A bag (a fact's paraphrase prompts) with no prompt.
    #[error("the bag of fact `{fact}` has no prompts")]
    EmptyBag {
        /// Which fact.
        fact: String,
    },
    /// A prompt with no tokens.
    #[error("prompt {index} is empty")]
    EmptyPrompt {
        /// Index of the prompt in its batch.
        index: usize,
    },
    /// A layer index outside the model.
    #[error("layer {layer} is outside the model ({n_layers} layers)")]
    LayerOutOfRange {
        /// The layer asked for.
        layer: usize,
        /// Layers of the model.
        n_layers: usize,
    },
    /// A neuron index outside its layer.
    #[error("neuron {index} of layer {layer} is outside the MLP (d_ff = {d_ff})")]
    NeuronOutOfRange {
        /// Layer.
        layer: usize,
        /// Neuron index.
        index: usize,
        /// MLP width.
        d_ff: usize,
    },
    /// A position outside a sequence.
    #[error("position {pos} is outside sequence {row} of length {len}")]
    PositionOutOfRange {
        /// Row of the batch.
        row: usize,
        /// The position.
        pos: usize,
        /// Sequence length.
        len: usize,
    },
    /// A token id outside the vocabulary.
    #[error("token id {id} is outside the vocabulary of {vocab} tokens")]
    TokenOutOfRange {
        /// The id.
        id: u32,
        /// Vocabulary size.
        vocab: usize,
    },
    /// Attribution needs gradients, and the model is on a plain device.
    #[error(
        "integrated gradients needs the model on an autodiff device (`Device::flex().autodiff()`, then `model.no_grad()`)"
    )]
    NotAutodiff,
    /// A percentage threshold above 100.
    #[error("{what} = {value}% is not a percentage in 0..=100")]
    Percentage {
        /// Which setting.
        what: &'static str,
        /// The value.
        value: u32,
    },
    /// Attribution arrays of different shapes where one shape is needed.
    #[error("attribution arrays disagree: {0}")]
    Shape(String),
    /// Not enough neurons to draw a matched random set from.
    #[error("layer {layer} has {available} neurons outside the excluded set, {needed} needed")]
    TooFewNeurons {
        /// Layer.
        layer: usize,
        /// Free neurons.
        available: usize,
        /// Neurons to draw.
        needed: usize,
    },
    /// The model rejected the input (shapes, hooks, lengths).
    #[error(transparent)]
    Nn(#[from] NnError),
    /// Greedy decoding failed.
    #[error(transparent)]
    Lm(#[from] repro_core::lm::LmError),
}

/// What the knowledge base and its loaders reject.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum KbError {
    /// A template without its subject slot `[X]`.
    #[error("template {template:?} has no subject slot [X]")]
    MissingSlot {
        /// The template.
        template: String,
    },
    /// A template with its slot more than once.
    #[error("template {template:?} has the subject slot [X] more than once")]
    RepeatedSlot {
        /// The template.
        template: String,
    },
    /// A PARAREL pattern whose object comes before its subject.
    #[error("pattern {pattern:?} has [Y] before [X] (only [X]-first patterns can be cut at [Y])")]
    ObjectFirst {
        /// The pattern.
        pattern: String,
    },
    /// A word the vocabulary does not have.
    #[error("unknown word {word:?} (not in the vocabulary)")]
    UnknownWord {
        /// The word.
        word: String,
    },
    /// An entity name the knowledge base does not have.
    #[error("unknown entity {name:?}")]
    UnknownEntity {
        /// The name.
        name: String,
    },
    /// A relation name the knowledge base does not have.
    #[error("unknown relation {name:?}; the knowledge base has {known}")]
    UnknownRelation {
        /// The name.
        name: String,
        /// The relations it has.
        known: String,
    },
    /// A knowledge-base configuration that cannot be built.
    #[error("invalid knowledge-base configuration: {0}")]
    Config(String),
}
