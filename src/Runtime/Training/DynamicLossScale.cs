using System;
using System.Threading;

namespace OptGen;

/// <summary>
/// Dynamic loss scaling for mixed-precision training, as <c>torch.cuda.amp.GradScaler</c>: multiply the loss by
/// <see cref="Scale"/>, step with <see cref="Options"/> (which unscale by 1/<see cref="Scale"/> inside the fused
/// step and skip steps with non-finite gradients), then pass the <see cref="StepResult"/> to <see cref="Update"/>.
/// </summary>
/// <remarks>
/// <para>After a skipped step the scale is multiplied by the backoff factor; after <c>growthInterval</c> steps in a
/// row without one it is multiplied by the growth factor. To resume exactly, save <see cref="Scale"/> and
/// <see cref="GoodSteps"/> and pass them back to the constructor.</para>
/// <para>The scale and the gradient scale 1/S are both kept finite and nonzero in float32 (GradScaler's scale is a
/// float32 tensor, and the kernels multiply by float32(1/S)). A growth or backoff that would leave that range
/// saturates at <see cref="MaxScale"/> = 2¹²⁷ or <see cref="MinScale"/> = 2⁻¹²⁷, powers of two, so a scale that
/// starts as one (the default 65536 with factors 2 and 0.5) stays one and 1/S stays exact; a scale already past the
/// limit in that direction keeps its value. However extreme the factors (a growth of 1e300, a backoff of 1e-300), the
/// scale moves towards the limit instead of stopping where it is.</para>
/// </remarks>
public sealed class DynamicLossScale
{
    private readonly StepOptions _template;
    private readonly double _growthFactor;
    private readonly double _backoffFactor;
    private readonly int _growthInterval;
    private readonly Lock _gate = new();

    /// <summary>The largest scale a growth reaches: 2¹²⁷, the largest power of two finite in float32 (1/2¹²⁷ is a float32 subnormal).</summary>
    public static double MaxScale { get; } = Math.ScaleB(1, 127);

    /// <summary>The smallest scale a backoff reaches: 2⁻¹²⁷ (a float32 subnormal), whose gradient scale 2¹²⁷ is finite in float32.</summary>
    public static double MinScale { get; } = Math.ScaleB(1, -127);

    // The scale and its options, replaced together: a reader never sees one scale's Scale with another's Options.
    private Current _current = new(1, StepOptions.Default);

    /// <summary>Creates the scaler.</summary>
    /// <param name="initialScale">The first scale S; S and 1/S finite and not 0 in float32 (about 2.9e-39 to 3.4e38; GradScaler's default is 65536).</param>
    /// <param name="growthFactor">The factor after <paramref name="growthInterval"/> good steps; &gt; 1.</param>
    /// <param name="backoffFactor">The factor after a skipped step; in (0, 1).</param>
    /// <param name="growthInterval">Good steps in a row before the scale grows; ≥ 1.</param>
    /// <param name="template">Other step options to keep (clipping, threads, rounding, batch size); its GradientScale and SkipNonFinite are replaced.</param>
    /// <param name="goodSteps">Good steps already counted (when resuming); ≥ 0.</param>
    /// <exception cref="ArgumentOutOfRangeException">An argument is out of range.</exception>
    public DynamicLossScale(double initialScale = 65536, double growthFactor = 2, double backoffFactor = 0.5, int growthInterval = 2000, StepOptions? template = null, int goodSteps = 0)
    {
        // Also rules out NaN, ±∞, 0 and negative scales.
        if (!IsUsable(initialScale))
        {
            throw new ArgumentOutOfRangeException(nameof(initialScale), initialScale, "The scale must be > 0, with the scale and 1/scale finite and not 0 in float32.");
        }

        if (!double.IsFinite(growthFactor) || growthFactor <= 1)
        {
            throw new ArgumentOutOfRangeException(nameof(growthFactor), growthFactor, "The growth factor must be finite and > 1.");
        }

        if (!(backoffFactor > 0 && backoffFactor < 1))
        {
            throw new ArgumentOutOfRangeException(nameof(backoffFactor), backoffFactor, "The backoff factor must be in (0, 1).");
        }

        ArgumentOutOfRangeException.ThrowIfLessThan(growthInterval, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(goodSteps);
        _template = template ?? StepOptions.Default;
        _growthFactor = growthFactor;
        _backoffFactor = backoffFactor;
        _growthInterval = growthInterval;
        GoodSteps = goodSteps;
        SetScale(initialScale);
    }

    /// <summary>The current loss scale S: multiply the loss (or its gradient) by it before back-propagation.</summary>
    public double Scale => Volatile.Read(ref _current).Scale;

    /// <summary>Good steps in a row since the scale last changed.</summary>
    public int GoodSteps { get; private set; }

    /// <summary>The step options for the current scale: GradientScale = 1/S, SkipNonFinite, and the template's other options.</summary>
    public StepOptions Options => Volatile.Read(ref _current).Options;

    /// <summary>
    /// Adjusts the scale after a step, from whether that step found non-finite gradients. Calls from several threads
    /// (each reporting its own step) are applied one after another, none lost.
    /// </summary>
    public void Update(StepResult result)
    {
        lock (_gate)
        {
            Apply(result);
        }
    }

    private void Apply(StepResult result)
    {
        if (result.FoundNonFinite)
        {
            GoodSteps = 0;
            double reduced = Scale * _backoffFactor;
            SetScale(IsUsable(reduced) ? reduced : Math.Min(Scale, MinScale));
            return;
        }

        // Counted up to the interval, never past it: a resumed count at or beyond it (goodSteps = int.MaxValue) grows at
        // the next good step instead of wrapping to a negative count that would not grow for 2³² steps.
        if (GoodSteps >= _growthInterval - 1)
        {
            GoodSteps = 0;
            double grown = Scale * _growthFactor;
            SetScale(IsUsable(grown) ? grown : Math.Max(Scale, MaxScale));
        }
        else
        {
            GoodSteps++;
        }
    }

    /// <summary>
    /// Whether <paramref name="scale"/> is finite and not 0 in float32 (a loss scale a float32 loss can be multiplied by),
    /// and 1/<paramref name="scale"/> is a gradient scale <see cref="StepOptions"/> accepts (the same). A product that
    /// overflows or underflows double (∞, 0) is not.
    /// </summary>
    private static bool IsUsable(double scale) =>
        HyperparameterRanges.Contains(HyperparameterRange.Positive, scale) && HyperparameterRanges.Contains(HyperparameterRange.Positive, 1 / scale);

    private void SetScale(double scale) => Volatile.Write(ref _current, new Current(scale, _template.WithLossScale(1 / scale)));

    private sealed record Current(double Scale, StepOptions Options);
}
