using System;
using System.Collections.Generic;
using System.Linq;
using System.Reflection;
using Xunit;
using static OptGen.Runtime.Tests.TrainingTestData;

namespace OptGen.Runtime.Tests.Audit;

/// <summary>
/// Values at the edges, for every kind of <see cref="AuditKinds"/>: a NaN, ±∞, or a finite gradient that the step's
/// <see cref="StepOptions.GradientScale"/> would overflow, in any tensor, with <see cref="StepOptions.SkipNonFinite"/>
/// (with and without clipping) skips the step with parameters and checkpoint bit for bit unchanged; and a loss
/// scaler keeps every option of its template.
/// </summary>
public sealed class AuditValueTests
{
    public static TheoryData<string> Kinds() => new(AuditKinds.Names);

    [Theory]
    [MemberData(nameof(Kinds))]
    public void ANonFiniteOrOverflowingGradientInAnyTensorIsSkippedWithNothingChanged(string kind)
    {
        Optimizer optimizer = AuditKinds.Trained(kind, 1);
        byte[] before = AuditKinds.Save(optimizer);
        float[] p = Random(new Random(2), optimizer.Length);
        float[] initial = (float[])p.Clone();
        var failures = new List<string>();
        (float Value, double Scale)[] cases = [(float.NaN, 1), (float.PositiveInfinity, 1), (float.NegativeInfinity, 1 / 1024.0), (3e38f, 2), (-2e38f, 1e10), (1e30f, 1e9)];
        for (int j = 0; j < optimizer.Layout.TensorCount; j++)
        {
            if (optimizer.Layout.LengthOf(j) == 0)
            {
                continue;
            }

            foreach ((float value, double scale) in cases)
            {
                foreach (double clip in new[] { double.PositiveInfinity, 1.0 })
                {
                    float[] g = Random(new Random(3), optimizer.Length, 0.1);
                    g[optimizer.Layout.ArenaOffsetOf(j) + optimizer.Layout.LengthOf(j) - 1] = value;
                    string what = $"{kind}: {value} in tensor {j}, scale {scale}, clip {clip}";
                    StepResult result = optimizer.Step(p, g, new StepOptions { SkipNonFinite = true, GradientScale = scale, MaxGradientNorm = clip });
                    if (!result.Skipped || !result.FoundNonFinite)
                    {
                        // A finite gradient that clipping brings back into range is stepped, as it should be.
                        if (float.IsFinite(value) && !double.IsPositiveInfinity(clip))
                        {
                            Assert.All(p, x => Assert.True(float.IsFinite(x), $"{what}: a parameter became {x}"));
                            optimizer = AuditKinds.Trained(kind, 1);
                            p = (float[])initial.Clone();
                            continue;
                        }

                        failures.Add($"{what}: not skipped ({result})");
                        optimizer = AuditKinds.Trained(kind, 1);
                        p = (float[])initial.Clone();
                        continue;
                    }

                    if (!p.AsSpan().SequenceEqual(initial) || !AuditKinds.Save(optimizer).AsSpan().SequenceEqual(before))
                    {
                        failures.Add($"{what}: skipped, but something changed");
                    }
                }
            }
        }

        Assert.True(failures.Count == 0, string.Join("\n", failures));
    }

    /// <summary>
    /// Without <see cref="StepOptions.SkipNonFinite"/> nothing changes: a gradient scale of 2 on 3e38 reaches the
    /// parameters as ∞ (as in torch), and a large gradient that its scale keeps in range is stepped.
    /// </summary>
    [Fact]
    public void OnlySkippingTreatsAnOverflowingScaleAsNonFinite()
    {
        var sgd = new Sgd(4) { LearningRate = 1 };
        float[] p = [0, 0, 0, 0];
        StepResult result = sgd.Step(p, new float[] { 3e38f, 0, 0, 0 }, new StepOptions { GradientScale = 2 });
        Assert.False(result.Skipped);
        Assert.Equal(float.NegativeInfinity, p[0]);

        p = [0, 0, 0, 0];
        result = sgd.Step(p, new float[] { 3e38f, 3e38f, 0, 0 }, new StepOptions { GradientScale = 1, SkipNonFinite = true });
        Assert.False(result.Skipped);
        Assert.Equal(-3e38f, p[0]);

        p = [0, 0, 0, 0];
        result = sgd.Step(p, new float[] { 1.6e38f, 0, 0, 0 }, new StepOptions { GradientScale = 2, SkipNonFinite = true });
        Assert.False(result.Skipped);
        Assert.Equal(-3.2e38f, p[0]);
    }

    /// <summary>Every option of the template except the two the scaler owns (GradientScale, SkipNonFinite) is in its options, at every scale.</summary>
    [Fact]
    public void ALossScalerKeepsEveryOptionOfItsTemplate()
    {
        var template = new StepOptions
        {
            MaxGradientNorm = 5,
            ComputeGradientNorm = true,
            MaxDegreeOfParallelism = 3,
            StochasticRounding = true,
            RoundingSeed = 77,
            BatchSize = 64,
        };
        PropertyInfo[] options = typeof(StepOptions).GetProperties(BindingFlags.Public | BindingFlags.Instance);
        var own = new HashSet<string> { nameof(StepOptions.GradientScale), nameof(StepOptions.SkipNonFinite) };
        foreach (PropertyInfo option in options.Where(o => !own.Contains(o.Name)))
        {
            Assert.NotEqual(option.GetValue(StepOptions.Default), option.GetValue(template));
        }

        var scaler = new DynamicLossScale(initialScale: 1024, growthInterval: 1, template: template);
        for (int update = 0; update < 3; update++)
        {
            foreach (PropertyInfo option in options.Where(o => !own.Contains(o.Name)))
            {
                Assert.True(Equals(option.GetValue(template), option.GetValue(scaler.Options)), $"{option.Name}: {option.GetValue(scaler.Options)} after {update} updates, the template has {option.GetValue(template)}");
            }

            Assert.Equal(1 / scaler.Scale, scaler.Options.GradientScale);
            Assert.True(scaler.Options.SkipNonFinite);
            scaler.Update(new StepResult(Skipped: false, FoundNonFinite: update == 1, GradientNorm: 1, ClipFactor: 1, StepCount: update));
        }
    }

    /// <summary>
    /// A schedule factory given NaN or ±∞ as a value or factor refuses it by name where it is given (no hyperparameter
    /// takes such a value); before, the schedule was made and only the step refused it, naming the hyperparameter.
    /// Finite values out of a hyperparameter's range are still the step's to refuse.
    /// </summary>
    [Fact]
    public void ScheduleFactoriesRefuseNonFiniteValuesByName()
    {
        foreach (double bad in new[] { double.NaN, double.PositiveInfinity, double.NegativeInfinity })
        {
            (string Name, Func<Schedule> Make)[] cases =
            [
                ("value", () => Schedule.Constant(bad)),
                ("initial", () => Schedule.Step(bad, 2, 0.5)),
                ("gamma", () => Schedule.Step(1, 2, bad)),
                ("initial", () => Schedule.MultiStep(bad, [2], 0.5)),
                ("gamma", () => Schedule.MultiStep(1, [2], bad)),
                ("initial", () => Schedule.Exponential(bad, 0.5)),
                ("gamma", () => Schedule.Exponential(1, bad)),
                ("initial", () => Schedule.Cosine(bad, 10)),
                ("minimum", () => Schedule.Cosine(1, 10, bad)),
                ("start", () => Schedule.Linear(bad, 1, 10)),
                ("end", () => Schedule.Linear(1, bad, 10)),
                ("initial", () => Schedule.InverseSquareRoot(bad)),
                ("initial", () => Schedule.InverseTime(bad)),
                ("maximum", () => Schedule.OneCycle(bad, 10)),
                ("start", () => Schedule.OneCycleThrough(bad, 0.85, 0.95, 10, 0.3)),
                ("peak", () => Schedule.OneCycleThrough(0.95, bad, 0.95, 10, 0.3)),
                ("end", () => Schedule.OneCycleThrough(0.95, 0.85, bad, 10, 0.3)),
            ];
            foreach ((string name, Func<Schedule> make) in cases)
            {
                Assert.Equal(name, Assert.Throws<ArgumentOutOfRangeException>(make).ParamName);
            }
        }

        var adam = new Adam(4);
        adam.SetSchedule("LearningRate", Schedule.Constant(1e300));
        InvalidOperationException e = Assert.Throws<InvalidOperationException>(() => adam.Step(new float[4], new float[4]));
        Assert.Contains("LearningRate", e.Message, StringComparison.Ordinal);
    }
}
