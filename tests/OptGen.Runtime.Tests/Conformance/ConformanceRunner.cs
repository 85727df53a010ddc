using System;
using System.Globalization;
using System.Linq;
using ILGPU.Runtime;
using OptGen.Gpu;

namespace OptGen.Runtime.Tests.Conformance;

/// <summary>The outcome of one case.</summary>
/// <param name="Name">The case name.</param>
/// <param name="Errors">The error over all steps and elements.</param>
/// <param name="RelativeTolerance">The case's rtol.</param>
public sealed record ConformanceResult(string Name, ErrorAccumulator Errors, double RelativeTolerance)
{
    /// <summary>Whether max |p − p_ref| ≤ rtol · max |p_ref| with every value finite where the reference is.</summary>
    public bool Passed => Errors.Passed(RelativeTolerance);

    /// <summary>SCHEMA's line: <c>name: max err X (rtol Y) pass|FAIL</c>; X is relative to max |p_ref|.</summary>
    public string Line => string.Create(CultureInfo.InvariantCulture,
        $"{Name}: max err {Errors.RelativeError:E3} (rtol {RelativeTolerance:G3}) {(Passed ? "pass" : "FAIL")}");

    /// <summary>Where the largest error (or the first non-finite value) is, for a failing case.</summary>
    public string? FirstFailure => Passed ? null : Errors.Where;
}

/// <summary>
/// Accumulates max |p − p_ref| and max |p_ref| over steps and elements. A non-finite p where p_ref is finite is
/// recorded explicitly (a comparison such as <c>err &gt; max</c> would silently skip NaN).
/// </summary>
public sealed class ErrorAccumulator
{
    /// <summary>The largest |p − p_ref| seen.</summary>
    public double MaxError { get; private set; }

    /// <summary>The largest |p_ref| seen.</summary>
    public double MaxReference { get; private set; }

    /// <summary>Whether some p was NaN or ∞ (or differed from a non-finite reference).</summary>
    public bool NonFinite { get; private set; }

    /// <summary>Max error over max |p_ref| (∞ when something was non-finite).</summary>
    public double RelativeError => NonFinite ? double.PositiveInfinity : MaxReference > 0 ? MaxError / MaxReference : MaxError;

    /// <summary>A description of the worst place.</summary>
    public string Where { get; private set; } = "no error";

    /// <summary>Adds the parameters after step <paramref name="step"/>.</summary>
    public void Add(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual, int step)
    {
        if (expected.Length != actual.Length)
        {
            throw new ArgumentException($"Expected {expected.Length} values but got {actual.Length}.", nameof(actual));
        }

        for (int i = 0; i < expected.Length; i++)
        {
            double e = expected[i];
            double a = actual[i];
            if (!double.IsFinite(e))
            {
                if (!e.Equals(a) && !NonFinite)
                {
                    NonFinite = true;
                    Where = Describe(step, i, e, a);
                }

                continue;
            }

            MaxReference = Math.Max(MaxReference, Math.Abs(e));
            if (!double.IsFinite(a))
            {
                if (!NonFinite)
                {
                    NonFinite = true;
                    Where = Describe(step, i, e, a);
                }

                continue;
            }

            double error = Math.Abs(a - e);
            if (error > MaxError)
            {
                MaxError = error;
                if (!NonFinite)
                {
                    Where = Describe(step, i, e, a);
                }
            }
        }
    }

    /// <summary>Whether the accumulated error passes: finite, and max |p − p_ref| ≤ rtol · max |p_ref|.</summary>
    public bool Passed(double relativeTolerance) => !NonFinite && MaxError <= relativeTolerance * MaxReference;

    private static string Describe(int step, int index, double expected, double actual) =>
        string.Create(CultureInfo.InvariantCulture, $"step {step}, element {index}: got {actual:R}, reference {expected:R}");
}

/// <summary>
/// Runs a case on the catalog optimizer built by <see cref="CatalogFactory"/>: through its CPU SIMD kernel, or through
/// its generated ILGPU kernel (<see cref="GpuOptimizer"/>) on a given accelerator.
/// </summary>
public static class ConformanceRunner
{
    /// <summary>
    /// Feeds grads[t − 1] at step t = 1..T (with lr_per_step[t − 1] as the learning rate when given) and compares
    /// after every step. With an <paramref name="accelerator"/>, the steps run on it through <see cref="GpuOptimizer"/>,
    /// which reads the hyperparameters (the per-step learning rate included) from the host optimizer at every step.
    /// </summary>
    /// <param name="c">The case.</param>
    /// <param name="accelerator">The ILGPU accelerator to run on, or null for the CPU SIMD path.</param>
    public static ConformanceResult Run(ConformanceCase c, Accelerator? accelerator = null)
    {
        ArgumentNullException.ThrowIfNull(c);
        CatalogConfiguration configuration = CatalogFactory.Describe(c.Optimizer, c.Hyperparameters);
        CaseTensors tensors = CaseTensors.Read(c);
        Optimizer optimizer = configuration.Create(tensors.Layout);
        if (tensors.EvalExpected is not null && optimizer is not AdamWScheduleFree)
        {
            throw new ArgumentException(
                $"{c.Name}: params_eval_after_each_step is defined only for adamw_schedulefree (SCHEMA: the x that Eval() would put in the parameters), not for '{c.Optimizer}'.",
                "params_eval_after_each_step");
        }

        using GpuOptimizer? gpu = accelerator is null ? null : new GpuOptimizer(optimizer, accelerator);
        float[] p = (float[])c.InitialParameters.Clone();
        var errors = new ErrorAccumulator();
        for (int t = 1; t <= c.Steps; t++)
        {
            if (c.LearningRatePerStep is not null)
            {
                try
                {
                    optimizer[configuration.LearningRateProperty] = c.LearningRatePerStep[t - 1];
                }
                catch (ArgumentException error)
                {
                    throw new ArgumentException(
                        string.Create(CultureInfo.InvariantCulture, $"{c.Name}: lr_per_step[{t - 1}] = {c.LearningRatePerStep[t - 1]:R} (step {t}), which OptGen refuses: {error.Message}"),
                        "lr_per_step",
                        error);
                }
            }

            try
            {
                if (gpu is null)
                {
                    optimizer.Step(p, c.Gradients[t - 1]);
                }
                else
                {
                    gpu.Step(p, c.Gradients[t - 1]);
                }
            }
            catch (ArgumentException error) when (configuration.Settings.FirstOrDefault(s => s.Property == error.ParamName) is { } setting)
            {
                // A rule that checks a hyperparameter when it steps (Adafactor's d >= 1): name the case's key.
                throw new ArgumentException(
                    string.Create(CultureInfo.InvariantCulture, $"{c.Name}: step {t}: the hyperparameter '{setting.Key}' sets {setting.Property} = {setting.Value:R}, which OptGen refuses: {error.Message}"),
                    setting.Key,
                    error);
            }

            errors.Add(c.Expected[t - 1], p, t);
            if (tensors.EvalExpected is not null)
            {
                // Schedule-free: x after the step, then back to y (exactly) for the next step (on the device with a GPU backend).
                var scheduleFree = (AdamWScheduleFree)optimizer;
                if (gpu is null)
                {
                    scheduleFree.Eval(p);
                }
                else
                {
                    gpu.Eval(p);
                }

                errors.Add(tensors.EvalExpected[t - 1], p, t);
                if (gpu is null)
                {
                    scheduleFree.Train(p);
                }
                else
                {
                    gpu.Train(p);
                }
            }
        }

        return new ConformanceResult(c.Name, errors, c.RelativeTolerance);
    }
}
