using System;

namespace OptGen;

/// <summary>
/// What a training step does besides the update: gradient unscaling, global-norm clipping, skipping steps with
/// non-finite gradients, and how many cores it may use. One instance can be reused for every step.
/// </summary>
/// <remarks>
/// Unscaling and clipping cost nothing extra: both become one factor on every gradient element inside the fused
/// update. Clipping, skipping and <see cref="ComputeGradientNorm"/> need the gradient norm, which costs one
/// read-only pass over the gradients before the update.
/// </remarks>
public sealed class StepOptions
{
    private readonly double _gradientScale = 1.0;
    private readonly double _maxGradientNorm = double.PositiveInfinity;
    private readonly int _maxDegreeOfParallelism = -1;
    private readonly int _batchSize;

    /// <summary>Plain steps: no unscaling, no clipping, no norm, the optimizer's parallelism.</summary>
    public static StepOptions Default { get; } = new();

    /// <summary>
    /// A factor on every gradient element before the rule sees it. With a loss scale S (mixed precision), pass 1/S:
    /// the unscaled gradient g/S is what the rule, the norm and the clipping see. &gt; 0, finite and not 0 in float32
    /// (the kernels multiply by it in float32); default 1.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The value is not &gt; 0, or is ∞ or 0 in float32; nothing is set.</exception>
    public double GradientScale
    {
        get => _gradientScale;
        init
        {
            if (!HyperparameterRanges.Contains(HyperparameterRange.Positive, value))
            {
                throw new ArgumentOutOfRangeException(nameof(GradientScale), value, $"GradientScale must be {HyperparameterRanges.Text(HyperparameterRange.Positive)}.");
            }

            _gradientScale = value;
        }
    }

    /// <summary>
    /// Clip the unscaled gradients of all tensors together to this global L2 norm, as
    /// <c>torch.nn.utils.clip_grad_norm_</c>: every gradient is multiplied by min(1, max/(‖g‖ + 1e-6)).
    /// +∞ (the default: no clipping) or a value &gt; 0 that is finite and not 0 in float32 (the clip factor scales the
    /// gradients in float32).
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The value is not &gt; 0 (NaN included), or is finite but ∞ or 0 in float32; nothing is set.</exception>
    public double MaxGradientNorm
    {
        get => _maxGradientNorm;
        init
        {
            if (!double.IsPositiveInfinity(value) && !HyperparameterRanges.Contains(HyperparameterRange.Positive, value))
            {
                throw new ArgumentOutOfRangeException(nameof(MaxGradientNorm), value, $"MaxGradientNorm must be +Infinity (no clipping) or {HyperparameterRanges.Text(HyperparameterRange.Positive)}.");
            }

            _maxGradientNorm = value;
        }
    }

    /// <summary>
    /// When a gradient element is NaN or ±∞, or would be once multiplied by the step's gradient factor (some
    /// gᵢ·float32(<see cref="GradientScale"/> × clip) beyond float32's range, tested exactly on the largest |gᵢ|),
    /// skip the step: parameters, state and step count stay bit-for-bit as they were, and
    /// <see cref="StepResult.Skipped"/> says so (as <c>GradScaler</c>'s found_inf, which tests every unscaled
    /// gradient element). A per-example square (the steps that take them) that is NaN or ±∞ counts as such a
    /// gradient element. Default false.
    /// </summary>
    public bool SkipNonFinite { get; init; }

    /// <summary>
    /// Round stochastically when writing <see cref="BFloat16"/> parameters (unbiased: E[round(x)] = x), so that updates
    /// smaller than half a bfloat16 unit still move the parameters on average. Default false: round to nearest even.
    /// </summary>
    public bool StochasticRounding { get; init; }

    /// <summary>The seed of stochastic rounding; with the step number, tensor and element it fixes every random bit.</summary>
    public ulong RoundingSeed { get; init; }

    /// <summary>Compute and report the gradient norm even when neither clipping nor skipping needs it. Default false.</summary>
    public bool ComputeGradientNorm { get; init; }

    /// <summary>
    /// The most cores this step may use: −1 (the default) follows the optimizer's
    /// <see cref="Optimizer.MaxDegreeOfParallelism"/>; any other value overrides it for the step, and 1 keeps the step
    /// on the calling thread (no thread-pool work). Results do not depend on it: the work is split at 16-element
    /// boundaries and the norm is summed in fixed blocks in a fixed order.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The value is 0 or below −1.</exception>
    public int MaxDegreeOfParallelism
    {
        get => _maxDegreeOfParallelism;
        init
        {
            if (value == 0 || value < -1)
            {
                throw new ArgumentOutOfRangeException(nameof(MaxDegreeOfParallelism), value, "MaxDegreeOfParallelism must be -1 (the optimizer's MaxDegreeOfParallelism) or >= 1.");
            }

            _maxDegreeOfParallelism = value;
        }
    }

    /// <summary>
    /// These options with <see cref="GradientScale"/> = <paramref name="gradientScale"/> and <see cref="SkipNonFinite"/>
    /// set, every other option kept (a loss scaler's options from its template).
    /// </summary>
    internal StepOptions WithLossScale(double gradientScale) => With(gradientScale, skipNonFinite: true);

    /// <summary>
    /// These options with <see cref="GradientScale"/> = <paramref name="gradientScale"/> and <see cref="SkipNonFinite"/>
    /// = <paramref name="skipNonFinite"/>, every other option kept: the one copy of the fields, beside them (a loss
    /// scaler's options, a sharded step's averaged ones).
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="gradientScale"/> is out of <see cref="GradientScale"/>'s range.</exception>
    internal StepOptions With(double gradientScale, bool skipNonFinite) => new()
    {
        GradientScale = gradientScale,
        SkipNonFinite = skipNonFinite,
        MaxGradientNorm = MaxGradientNorm,
        ComputeGradientNorm = ComputeGradientNorm,
        MaxDegreeOfParallelism = MaxDegreeOfParallelism,
        StochasticRounding = StochasticRounding,
        RoundingSeed = RoundingSeed,
        BatchSize = BatchSize,
    };

    /// <summary>Whether the step needs the read-only norm pass before the update.</summary>
    internal bool NeedsNorm => ComputeGradientNorm || SkipNonFinite || !double.IsPositiveInfinity(MaxGradientNorm);

    /// <summary>
    /// The batch size B of this step, for a rule with per-example hyperparameters (η = B·η′, N = max(1, N′/B)):
    /// 0 (the default) uses <see cref="Optimizer.BatchSize"/>; any other value must be at least 1 and overrides it for
    /// this step only.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The value is negative; nothing is set.</exception>
    public int BatchSize
    {
        get => _batchSize;
        init
        {
            if (value != 0)
            {
                Optimizer.ThrowIfInvalidBatchSize(value, nameof(BatchSize));
            }

            _batchSize = value;
        }
    }
}

/// <summary>What one training step did.</summary>
/// <param name="Skipped">The step was skipped because a gradient was NaN or ±∞ and <see cref="StepOptions.SkipNonFinite"/> was set; nothing was written.</param>
/// <param name="FoundNonFinite">A gradient element (or per-example square) was NaN or ±∞ (known only when the norm was computed).</param>
/// <param name="GradientNorm">The global L2 norm of the unscaled gradients before clipping, or NaN when it was not computed or a per-example square was not finite.</param>
/// <param name="ClipFactor">The factor clipping applied to every gradient: min(1, max/(norm + 1e-6)), or 1.</param>
/// <param name="StepCount">The optimizer's step count after this step.</param>
public readonly record struct StepResult(bool Skipped, bool FoundNonFinite, double GradientNorm, double ClipFactor, long StepCount);
