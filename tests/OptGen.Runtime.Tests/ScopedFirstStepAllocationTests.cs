using System;
using System.Linq;
using System.Threading;
using Xunit;
using Xunit.Abstractions;
using static OptGen.Runtime.Tests.TrainingTestData;

namespace OptGen.Runtime.Tests;

/// <summary>
/// A declared rule with row or column reductions cuts its work units and allocates their partials (with column
/// reductions up to 64 units' column sums: 1 MB for 512 × 2047) when it is constructed, not on its first step: the
/// first step allocates nothing beyond what any later step does (nothing), as long as the state precision has not
/// changed the codec blocks in between; nor does any optimizer's first step allocate its step plan and scratch (the
/// norm's partial sums, pin handles: about 1 KB here). Measured on a thread that already stepped a twin (so the
/// thread's own first-touch costs are paid), with one thread per step.
/// </summary>
[Collection(nameof(AllocationCollection))]
public sealed class ScopedFirstStepAllocationTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData("declared-column-adam-mini", StatePrecision.Float32)]
    [InlineData("declared-column-adam-mini", StatePrecision.BFloat16)]
    [InlineData("declared-row-adam-mini", StatePrecision.Float32)]
    public void TheFirstStepOfAScopedRuleAllocatesNothing(string rule, StatePrecision precision)
    {
        ParameterLayout layout = ParameterLayout.FromShapes([[512, 2047]]);
        var random = new Random(5);
        float[] p = Random(random, layout.TotalLength, 0.1);
        float[][] g = [.. Enumerable.Range(0, 3).Select(_ => Random(random, layout.TotalLength, 0.01))];
        long first = -1, later = -1;
        var thread = new Thread(() =>
        {
            Optimizer twin = Make(rule, layout, precision);
            float[] q = (float[])p.Clone();
            twin.Step(q, g[0]);
            twin.Step(q, g[1]);

            // The least of three fresh optimizers' first steps (what the optimizer allocates happens in each; a one-time
            // cost of the process in one window — a few KB seen once in a run of three tests — is not the step's).
            first = long.MaxValue;
            later = long.MaxValue;
            for (int fresh = 0; fresh < 3; fresh++)
            {
                Optimizer optimizer = Make(rule, layout, precision);
                float[] r = (float[])p.Clone();
                long before = GC.GetAllocatedBytesForCurrentThread();
                optimizer.Step(r, g[0]);
                first = Math.Min(first, GC.GetAllocatedBytesForCurrentThread() - before);

                before = GC.GetAllocatedBytesForCurrentThread();
                optimizer.Step(r, g[2]);
                later = Math.Min(later, GC.GetAllocatedBytesForCurrentThread() - before);
            }
        });
        thread.Start();
        thread.Join();
        output.WriteLine($"{rule} {precision}: first step {first} bytes, second {later}");
        Assert.Equal(0, later);
        Assert.Equal(0, first);
    }

    private static Optimizer Make(string rule, ParameterLayout layout, StatePrecision precision)
    {
        Optimizer optimizer = rule == "declared-column-adam-mini" ? new DeclaredColumnAdamMini(layout) : BlockwiseCompactStateTests.Create(rule, layout);
        optimizer.MaxDegreeOfParallelism = 1;
        optimizer.ChangeStatePrecision(precision);
        return optimizer;
    }
}
