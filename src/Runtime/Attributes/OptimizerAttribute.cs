using System;

namespace OptGen;

/// <summary>
/// Marks a <c>partial class</c> as an optimizer: the OptGen generator reads the update-rule attributes on it
/// and emits a fused kernel, hyperparameter properties, state and a <c>Step</c> method.
/// </summary>
/// <example>
/// <code>
/// [Optimizer]
/// [FirstMoment(Length = 10)]
/// [SecondMoment(Length = 1000)]
/// [BiasCorrection(BiasCorrectionMode.Power)]
/// [Epsilon(1e-8)]
/// public partial class MyAdam;
/// </code>
/// </example>
/// <remarks>
/// Every OptGen attribute accepts structs, interfaces and repeated use so that such mistakes reach the generator
/// and are reported as <c>OPTG</c> diagnostics that say what to change (OPTG0004 for a non-class, OPTG0018 for a
/// repeated attribute) rather than as generic compiler errors.
/// </remarks>
[AttributeUsage(AttributeTargets.Class | AttributeTargets.Struct | AttributeTargets.Interface, AllowMultiple = true, Inherited = false)]
public sealed class OptimizerAttribute : Attribute
{
    /// <summary>The rule's name, stored in checkpoints; defaults to the class's full name.</summary>
    public string? Name { get; set; }
}

/// <summary>The default learning rate η (a settable <c>LearningRate</c> property). Without this attribute η defaults to 0.001.</summary>
[AttributeUsage(AttributeTargets.Class | AttributeTargets.Struct | AttributeTargets.Interface, AllowMultiple = true, Inherited = false)]
public sealed class LearningRateAttribute : Attribute
{
    /// <summary>Declares the default learning rate.</summary>
    /// <param name="value">η ≥ 0.</param>
    public LearningRateAttribute(double value) => Value = value;

    /// <summary>The default learning rate.</summary>
    public double Value { get; }

    /// <summary>Adagrad's learning-rate decay: ηₜ = η / (1 + (t − 1)·decay). Zero (the default) keeps η.</summary>
    public double Decay { get; set; }

    /// <summary>
    /// The units of the learning rate: per step (the default), or η′ for one example, so that a step of batch size B
    /// uses η = B·η′ (<see cref="BatchUnits.PerExample"/>) or η = √B·η′ (<see cref="BatchUnits.PerExampleSquareRoot"/>).
    /// </summary>
    public BatchUnits Units { get; set; }
}

/// <summary>
/// A first moment m: a running average of g (or |g|) with length N, i.e. β = 1 − 1/N:
/// m ← β·m + (1 − β)·g. Give either <see cref="Length"/> or <see cref="Beta"/>; the property is <c>Beta1</c>.
/// Without a second moment this is the lecture's EMA momentum, p ← p − η′·m.
/// </summary>
[AttributeUsage(AttributeTargets.Class | AttributeTargets.Struct | AttributeTargets.Interface, AllowMultiple = true, Inherited = false)]
public sealed class FirstMomentAttribute : Attribute
{
    /// <summary>The averaging length N ≥ 1 (β = 1 − 1/N).</summary>
    public double Length { get; set; }

    /// <summary>The decay β in [0, 1).</summary>
    public double Beta { get; set; }

    /// <summary>What is averaged: g (default) or |g|.</summary>
    public MomentInput Input { get; set; }

    /// <summary>How the average starts (default from zero).</summary>
    public MomentStart Start { get; set; }

    /// <summary>
    /// The units of the length (or decay): per step (the default), or in examples (<see cref="BatchUnits.PerExample"/>):
    /// N′ examples give N = max(1, N′/B) steps at batch size B, i.e. β = max(0, 1 − B·(1 − β′)).
    /// </summary>
    public BatchUnits Units { get; set; }
}

/// <summary>
/// A second moment s of the gradient, used as a per-parameter denominator: by default an exponential average
/// s ← β·s + (1 − β)·g² with length N (β = 1 − 1/N); the property is <c>Beta2</c>.
/// </summary>
[AttributeUsage(AttributeTargets.Class | AttributeTargets.Struct | AttributeTargets.Interface, AllowMultiple = true, Inherited = false)]
public sealed class SecondMomentAttribute : Attribute
{
    /// <summary>The averaging length N ≥ 1 (β = 1 − 1/N).</summary>
    public double Length { get; set; }

    /// <summary>The decay β in [0, 1).</summary>
    public double Beta { get; set; }

    /// <summary>How g² accumulates (default: exponential average).</summary>
    public SecondMomentKind Kind { get; set; }

    /// <summary>How the average starts (default from zero).</summary>
    public MomentStart Start { get; set; }

    /// <summary>RMSprop's centered form: subtract the squared running mean of g from s.</summary>
    public bool Centered { get; set; }

    /// <summary>The value every element of s starts at (Adagrad's <c>initial_accumulator_value</c>); a settable <c>InitialAccumulatorValue</c> property when nonzero.</summary>
    public double InitialValue { get; set; }

    /// <summary>The power of s in the denominator: 0.5 (√s, the default) or 1 (the lecture's "dimensionally correct" s).</summary>
    public double Power { get; set; } = 0.5;

    /// <summary>The name of the decay property (default <c>Beta2</c>; PyTorch's RMSprop calls it <c>Alpha</c>).</summary>
    public string? Name { get; set; }

    /// <summary>
    /// The units of the length (or decay): per step (the default), or in examples (<see cref="BatchUnits.PerExample"/>):
    /// N′ examples give N = max(1, N′/B) steps at batch size B, i.e. β = max(0, 1 − B·(1 − β′)).
    /// </summary>
    public BatchUnits Units { get; set; }

    /// <summary>
    /// What is averaged: g² (the default), or the batch mean of per-example squared gradients
    /// (<see cref="SecondMomentInput.PerExampleSquares"/>), which <c>Step</c> then takes beside the gradient.
    /// </summary>
    public SecondMomentInput Input { get; set; }

    /// <summary>
    /// Over which elements the second moment is shared (default: one per element). With <see cref="MomentScope.Block"/>
    /// (and <see cref="BlockLength"/>), <see cref="MomentScope.Row"/>, <see cref="MomentScope.Column"/> or
    /// <see cref="MomentScope.Tensor"/> it averages the mean of g² over the block (row, column, tensor) and is stored one
    /// value per block: Adam-mini's memory. The optimizer then runs in two passes (a reduction, then the update).
    /// </summary>
    public MomentScope Scope { get; set; }

    /// <summary>The block length B ≥ 1 of <see cref="MomentScope.Block"/>: one second moment per B consecutive elements of each tensor.</summary>
    public int BlockLength { get; set; }
}

/// <summary>How the running averages are corrected for their start at zero.</summary>
[AttributeUsage(AttributeTargets.Class | AttributeTargets.Struct | AttributeTargets.Interface, AllowMultiple = true, Inherited = false)]
public sealed class BiasCorrectionAttribute : Attribute
{
    /// <summary>Declares the correction.</summary>
    /// <param name="mode">None, Adam's 1 − βᵗ, or the lecture's 1/min(t, N).</param>
    public BiasCorrectionAttribute(BiasCorrectionMode mode) => Mode = mode;

    /// <summary>The correction.</summary>
    public BiasCorrectionMode Mode { get; }
}

/// <summary>The ε that keeps the denominator away from zero (a settable <c>Epsilon</c> property).</summary>
[AttributeUsage(AttributeTargets.Class | AttributeTargets.Struct | AttributeTargets.Interface, AllowMultiple = true, Inherited = false)]
public sealed class EpsilonAttribute : Attribute
{
    /// <summary>Declares ε.</summary>
    /// <param name="value">ε &gt; 0.</param>
    public EpsilonAttribute(double value) => Value = value;

    /// <summary>The default ε.</summary>
    public double Value { get; }

    /// <summary>Where ε enters the denominator (default outside the square root).</summary>
    public EpsilonPlacement Placement { get; set; }

    /// <summary>
    /// Add ε before the bias correction rather than after it: the Adam paper's "efficient" form
    /// ηₜ = η·√(1 − β₂ᵗ)/(1 − β₁ᵗ), p ← p − ηₜ·m/(√v + ε). PyTorch adds it after (the default).
    /// </summary>
    public bool BeforeBiasCorrection { get; set; }
}

/// <summary>AMSGrad: the denominator uses the running maximum of the second moment.</summary>
[AttributeUsage(AttributeTargets.Class | AttributeTargets.Struct | AttributeTargets.Interface, AllowMultiple = true, Inherited = false)]
public sealed class AmsGradAttribute : Attribute
{
}

/// <summary>
/// A momentum buffer over the update direction u (u = g for SGD, u = g/(√s + ε) for RMSprop); the coefficient
/// μ is the <c>Momentum</c> property. Give the coefficient or <see cref="Length"/> (μ = 1 − 1/N).
/// </summary>
[AttributeUsage(AttributeTargets.Class | AttributeTargets.Struct | AttributeTargets.Interface, AllowMultiple = true, Inherited = false)]
public sealed class MomentumAttribute : Attribute
{
    /// <summary>Declares momentum by its length (set <see cref="Length"/>) .</summary>
    public MomentumAttribute()
    {
    }

    /// <summary>Declares momentum with coefficient μ.</summary>
    /// <param name="coefficient">μ in [0, 1).</param>
    public MomentumAttribute(double coefficient) => Coefficient = coefficient;

    /// <summary>The coefficient μ.</summary>
    public double Coefficient { get; }

    /// <summary>The buffer's length N ≥ 1 (μ = 1 − 1/N).</summary>
    public double Length { get; set; }

    /// <summary>PyTorch's dampening (a settable <c>Dampening</c> property).</summary>
    public double Dampening { get; set; }

    /// <summary>Nesterov's form p ← p − η·(u + μ·b).</summary>
    public bool Nesterov { get; set; }

    /// <summary>PyTorch's heavy ball (default) or the lecture's classic form.</summary>
    public MomentumStyle Style { get; set; }

    /// <summary>
    /// The units of the length (or decay): per step (the default), or in examples (<see cref="BatchUnits.PerExample"/>):
    /// N′ examples give N = max(1, N′/B) steps at batch size B, i.e. β = max(0, 1 − B·(1 − β′)).
    /// </summary>
    public BatchUnits Units { get; set; }
}

/// <summary>Weight decay λ (a settable <c>WeightDecay</c> property): L2 (g ← g + λ·p) or decoupled (p ← p·(1 − ηλ), AdamW).</summary>
[AttributeUsage(AttributeTargets.Class | AttributeTargets.Struct | AttributeTargets.Interface, AllowMultiple = true, Inherited = false)]
public sealed class WeightDecayAttribute : Attribute
{
    /// <summary>Declares weight decay.</summary>
    /// <param name="value">λ ≥ 0.</param>
    public WeightDecayAttribute(double value) => Value = value;

    /// <summary>The default λ.</summary>
    public double Value { get; }

    /// <summary>Decoupled (AdamW) rather than L2.</summary>
    public bool Decoupled { get; set; }
}

/// <summary>Adds a settable <c>Maximize</c> property: when true the optimizer ascends (uses −g), as PyTorch's <c>maximize</c>.</summary>
[AttributeUsage(AttributeTargets.Class | AttributeTargets.Struct | AttributeTargets.Interface, AllowMultiple = true, Inherited = false)]
public sealed class MaximizeAttribute : Attribute
{
}
