using System;
using System.Linq;
using Xunit;

namespace OptGen.Runtime.Tests.Reductions;

/// <summary>
/// Stochastic rounding of bfloat16 parameters in a scoped rule's passes, which walk a unit run by run (a run per
/// row): each element's noise must be that of its arena position, as in the element-wise path, not restart at every
/// run (it once did, reusing one row's noise for every row of a unit).
/// </summary>
public sealed class ScopedRoundingTests
{
    [Fact]
    public void EachElementDrawsTheNoiseOfItsArenaPosition()
    {
        // The same update, once through a scoped plan (a row reduction multiplied by Zero = 0) and once element-wise.
        ParameterLayout layout = ParameterLayout.FromShapes([[40, 30], [3, 7, 9], [50]]);
        var scoped = new RowScopedRounding(layout);
        var plain = new PlainRounding(layout);
        var random = new Random(19);
        BFloat16[] a = Enumerable.Range(0, layout.TotalLength).Select(_ => (BFloat16)(float)((2 * random.NextDouble()) - 1)).ToArray();
        BFloat16[] b = (BFloat16[])a.Clone();
        var options = new StepOptions { StochasticRounding = true, RoundingSeed = 7 };
        for (int t = 0; t < 3; t++)
        {
            BFloat16[] g = Enumerable.Range(0, layout.TotalLength).Select(_ => (BFloat16)(float)((2 * random.NextDouble()) - 1)).ToArray();
            scoped.Step(a, g, options);
            plain.Step(b, g, options);
        }

        for (int i = 0; i < a.Length; i++)
        {
            Assert.True(a[i].Equals(b[i]), $"element {i}: {(float)a[i]} through the scoped passes, {(float)b[i]} element-wise");
        }
    }
}

/// <summary>p ← p − η·g, through a scoped plan (row_sum(g)·Zero adds nothing but makes the passes walk rows).</summary>
[Optimizer]
[Hyperparameter("Lr", 0.01)]
[Hyperparameter("Zero", 0.0)]
[Update("p = p - Lr * g + Zero * row_sum(g)")]
public sealed partial class RowScopedRounding;

/// <summary>p ← p − η·g, element-wise.</summary>
[Optimizer]
[Hyperparameter("Lr", 0.01)]
[Update("p = p - Lr * g")]
public sealed partial class PlainRounding;
