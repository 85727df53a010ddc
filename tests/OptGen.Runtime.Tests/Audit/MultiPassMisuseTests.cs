using System;
using System.Collections.Generic;
using System.Linq;
using Xunit;
using static OptGen.Runtime.Tests.TrainingTestData;

namespace OptGen.Runtime.Tests.Audit;

/// <summary>
/// The rules with reductions under misuse at run time. Every hyperparameter of LAMB, LARS, Adam-mini, Adafactor and
/// schedule-free set to values at and past float32's range (±1e300, ±1e-300, 4e38, NaN, ∞, …): the setter refuses it,
/// or the next steps refuse it with an <see cref="ArgumentOutOfRangeException"/> and nothing changed, or they give
/// finite parameters and state (a representable but huge value, such as a learning rate of 1e38, may overflow the
/// parameters as it would in any implementation; a value float32 cannot hold may not). And a NaN or ±∞ gradient in
/// any tensor with SkipNonFinite (with and without clipping) skips the whole multi-pass step with nothing changed.
/// </summary>
public sealed class MultiPassMisuseTests
{
    private static readonly Func<ParameterLayout, Optimizer>[] Families =
    [
        l => new Lamb(l), l => new Lars(l), l => new AdamMini(l), l => new Adafactor(l), l => new AdamWScheduleFree(l),
    ];

    [Fact]
    public void UnrepresentableHyperparametersAreRefusedWithNothingChanged()
    {
        double[] values = [1e300, -1e300, 1e-300, -1e-300, 4e38, 3.4e38, 1e38, 1e-45, 1e-40, double.NaN, double.PositiveInfinity, -2, 0.5, 2, 1e10, 0, -1];
        var lines = new List<string>();
        foreach (var make in Families)
        {
            var layout = ParameterLayout.FromShapes([[3, 4], [5]]);
            string fname = make(layout).Descriptor.Name;
            foreach (var h in make(layout).Descriptor.Hyperparameters)
            {
                foreach (double v in values)
                {
                    Optimizer o = make(layout);
                    var random = new Random(1);
                    float[][] p = Tensors(random, [12, 5]);
                    float[][] g = Tensors(random, [12, 5]);
                    o.Step(AsMemory(p), AsReadOnly(g));
                    float[][] p0 = Clone(p);
                    string outcome;
                    try
                    {
                        o.Groups[0][h.Name] = v;
                    }
                    catch (ArgumentOutOfRangeException)
                    {
                        continue; // setter refused
                    }
                    catch (Exception e)
                    {
                        lines.Add($"{fname}.{h.Name}={v:R}: the setter threw {e.GetType().Name}: {e.Message}");
                        continue;
                    }

                    var mid = Snapshot.Of(o);
                    try
                    {
                        for (int t = 0; t < 3; t++) o.Step(AsMemory(p), AsReadOnly(g));
                        bool finite = p.All(x => x.All(float.IsFinite)) && StateOf(o).All(s => s.All(float.IsFinite));
                        outcome = finite || Math.Abs(v) <= float.MaxValue ? null! : "non-finite result";
                    }
                    catch (ArgumentOutOfRangeException e)
                    {
                        bool same = p.Zip(p0).All(z => z.First.SequenceEqual(z.Second));
                        try { AssertUnchanged(mid, o); } catch { same = false; }
                        outcome = same ? null! : $"the step was refused but changed the optimizer: {e.Message}";
                    }
                    catch (Exception e)
                    {
                        outcome = $"the step threw {e.GetType().Name}: {e.Message}";
                    }

                    if (outcome != null) lines.Add($"{fname}.{h.Name}={v:R}: {outcome}");
                }
            }
        }

        Assert.True(lines.Count == 0, string.Join("\n", lines));
    }

    [Fact]
    public void NonFiniteGradientsSkipTheWholeMultiPassStep()
    {
        var lines = new List<string>();
        foreach (var make in Families)
        {
            foreach (float bad in new[] { float.NaN, float.PositiveInfinity, float.NegativeInfinity })
            {
                foreach (int where in new[] { 0, 11, 12, 16 })
                {
                    foreach (bool clip in new[] { false, true })
                    {
                        var layout = ParameterLayout.FromShapes([[3, 4], [5]]);
                        Optimizer o = make(layout);
                        var random = new Random(1);
                        float[][] p = Tensors(random, [12, 5]);
                        float[][] g = Tensors(random, [12, 5]);
                        o.Step(AsMemory(p), AsReadOnly(g));
                        var before = Snapshot.Of(o);
                        float[][] p0 = Clone(p);
                        float[][] gb = Clone(g);
                        gb[where / 12][where % 12] = bad;
                        var options = new StepOptions { SkipNonFinite = true, MaxGradientNorm = clip ? 0.5 : double.PositiveInfinity };
                        try
                        {
                            StepResult r = o.Step(AsMemory(p), AsReadOnly(gb), options);
                            bool same = p.Zip(p0).All(z => z.First.SequenceEqual(z.Second));
                            try { AssertUnchanged(before, o); } catch { same = false; }
                            if (!r.Skipped || !r.FoundNonFinite || !same)
                            {
                                lines.Add($"{o.Descriptor.Name} bad={bad} at {where} clip={clip}: skipped={r.Skipped} found={r.FoundNonFinite} unchanged={same}");
                            }

                            o.Step(AsMemory(p), AsReadOnly(g), options);
                            if (!p.All(x => x.All(float.IsFinite)))
                            {
                                lines.Add($"{o.Descriptor.Name} bad={bad} at {where}: next step nonfinite");
                            }
                        }
                        catch (Exception e)
                        {
                            lines.Add($"{o.Descriptor.Name} bad={bad} at {where}: {e.GetType().Name} {e.Message}");
                        }
                    }
                }
            }
        }

        Assert.True(lines.Count == 0, string.Join("\n", lines));
    }
}
