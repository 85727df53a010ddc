// Also compiled into the generator (src/Generator/OptGen.Generator.csproj links this file): there the types live in
// the generator's model namespace, so a project that references both assemblies sees one OptGen.* type of each.
#if OPTGEN_GENERATOR
namespace OptGen.Generator.Model;
#else
namespace OptGen;
#endif

/// <summary>How the running averages are corrected for their start at zero.</summary>
public enum BiasCorrectionMode
{
    /// <summary>No correction: the averages start biased toward zero.</summary>
    None = 0,

    /// <summary>Adam's correction: divide each average by 1 − βᵗ.</summary>
    Power = 1,

    /// <summary>The lecture's form: average with weight 1/min(t, N), which is exactly the mean of the first t values while t ≤ N.</summary>
    MinT = 2,
}

/// <summary>Where ε enters the denominator built from the second moment s.</summary>
public enum EpsilonPlacement
{
    /// <summary>η·u / (√s + ε), as in PyTorch's Adam and RMSprop.</summary>
    OutsideSqrt = 0,

    /// <summary>η·u / √(s + ε), as in the lecture's RMSProp slide.</summary>
    InsideSqrt = 1,

    /// <summary>The decoupled form η = ε·η₀: η₀·u / (1 + √s / ε), which tends to SGD as ε → ∞.</summary>
    Decoupled = 2,
}

/// <summary>What a first moment averages.</summary>
public enum MomentInput
{
    /// <summary>The gradient g.</summary>
    Gradient = 0,

    /// <summary>The absolute value |g|.</summary>
    AbsoluteGradient = 1,
}

/// <summary>How the second moment accumulates g².</summary>
public enum SecondMomentKind
{
    /// <summary>Exponential moving average s ← β·s + (1 − β)·g².</summary>
    ExponentialAverage = 0,

    /// <summary>Cumulative sum s ← s + g² (Adagrad).</summary>
    Sum = 1,

    /// <summary>Cumulative mean: s ← s + g² and the denominator uses s / t (the lecture's root-mean-square Adagrad).</summary>
    Mean = 2,

    /// <summary>Infinity norm u ← max(β·u, |g| + ε) (Adamax); the denominator is u itself.</summary>
    InfinityNorm = 3,
}

/// <summary>How an exponential average starts.</summary>
public enum MomentStart
{
    /// <summary>From zero, as every average in PyTorch does.</summary>
    Zero = 0,

    /// <summary>From the first sample: the first step stores the input itself (the lecture's σ₁ = |g₁|).</summary>
    FirstSample = 1,
}

/// <summary>The form of a momentum buffer applied to the update direction u.</summary>
public enum MomentumStyle
{
    /// <summary>PyTorch's heavy ball: b ← μ·b + (1 − dampening)·u (b₁ = u); p ← p − η·b, or p ← p − η·(u + μ·b) with Nesterov.</summary>
    PyTorch = 0,

    /// <summary>The lecture's classic form: v ← (1 − 1/N)·v + η·u; p ← p − v (η enters the buffer).</summary>
    Classic = 1,
}

/// <summary>
/// The units of a hyperparameter with respect to the batch size B (the optimizer's <c>BatchSize</c>): per step, as
/// usual, or per example, the lecture's batch-independent terms (η′, N′ for B = 1), which the step turns into its
/// per-step value from the batch size it runs with.
/// </summary>
public enum BatchUnits
{
    /// <summary>The value is the step's own (η, β = 1 − 1/N): the batch size does not enter (the default).</summary>
    PerStep = 0,

    /// <summary>
    /// The value is for one example (B = 1). A learning rate η′ gives η = B·η′ per step; a running-average length N′
    /// in examples (or its decay β′ = 1 − 1/N′) gives N = max(1, N′/B) steps, i.e. β = max(0, 1 − B·(1 − β′)).
    /// </summary>
    PerExample = 1,

    /// <summary>A learning rate η′ for one example, scaled by √B per step (η = √B·η′, the lecture's rule for Adam when the gradient noise dominates). Learning rates only.</summary>
    PerExampleSquareRoot = 2,
}

/// <summary>What a second moment averages.</summary>
public enum SecondMomentInput
{
    /// <summary>g², the square of the batch-mean gradient (default): its average estimates μ² + σ²/B.</summary>
    Gradient = 0,

    /// <summary>
    /// The batch mean of per-example squared gradients, (1/B)·Σ_b g_b², passed to <c>Step</c> beside the gradient: its
    /// average estimates μ² + σ² whatever the batch size (the lecture's "Making Adam independent of B").
    /// </summary>
    PerExampleSquares = 1,
}

/// <summary>Which trust ratio a <c>[TrustRatio]</c> declares (both are per tensor, from norms taken in a pass before the update).</summary>
public enum TrustRatioForm
{
    /// <summary>
    /// LAMB (You et al. 2020, Algorithm 2): the rule's full update direction r (the adaptive direction, plus λ·p with
    /// decoupled weight decay) is scaled by trust = κ·‖p‖/‖r‖, p ← p − η·trust·r. Needs a [SecondMoment].
    /// </summary>
    Lamb = 0,

    /// <summary>
    /// LARS (You et al. 2017): the gradient, with L2 weight decay, is scaled by local = κ·‖p‖/(‖g‖ + λ·‖p‖) before it
    /// enters the momentum buffer (or the step). Takes no [SecondMoment].
    /// </summary>
    Lars = 1,
}

/// <summary>
/// Over which elements a second moment is shared: per element (Adam), or one value per tensor, row, column or block
/// (Adam-mini, NovoGrad), averaging g² over it. A shared moment is stored one value per tensor (row, column, block).
/// </summary>
public enum MomentScope
{
    /// <summary>One value per element (the default).</summary>
    Element = 0,

    /// <summary>One value per tensor, from the tensor's mean of g² (NovoGrad-like; the infinity norm: its max |g|).</summary>
    Tensor = 1,

    /// <summary>One value per row of each matrix (a tensor is a stack of matrices over its last two dimensions; a vector is one row).</summary>
    Row = 2,

    /// <summary>One value per column of each matrix.</summary>
    Column = 3,

    /// <summary>One value per block of <c>BlockLength</c> consecutive elements of each tensor (the last block of a tensor may be shorter): Adam-mini.</summary>
    Block = 4,
}
