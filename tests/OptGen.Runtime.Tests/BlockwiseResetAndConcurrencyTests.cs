using System;
using System.IO;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Xunit;

namespace OptGen.Runtime.Tests;

[Optimizer(Name = "Review sum of tensor state")]
[Hyperparameter("Lr", 0.01)]
[State("r")]
[Update("r = mean(g * g)")]
[Update("p = p - Lr * sum(r) * g")]
public sealed partial class ReviewSumOfTensorState;

[Optimizer(Name = "Review stateless normalized step")]
[Hyperparameter("Lr", 0.01)]
[Update("p = p - Lr * g / (norm(g) + 1e-6)")]
public sealed partial class ReviewStatelessNormalized;

[Optimizer(Name = "Review write-only state")]
[Hyperparameter("Lr", 0.01)]
[State("m")]
[Update("m = g * g - 0.5 * g")]
[Update("p = p - Lr * g / (norm(g) + 1e-6)")]
public sealed partial class ReviewWriteOnlyState;

/// <summary>
/// Blockwise (8-/4-bit) and per-group state of the multi-pass rules: concurrent optimizers on several threads (the
/// per-thread staging window) give the serial bits; a refused step, a refused group conversion in eval mode and Reset
/// leave or restore the state exactly; a tensor reduction of a per-tensor state against float64.
/// </summary>
public sealed class BlockwiseResetAndConcurrencyTests
{
    private static float[] Rand(Random r, int n, double s) => [.. Enumerable.Range(0, n).Select(_ => (float)((r.NextDouble() - 0.5) * s))];

    private static byte[] Save(Optimizer o)
    {
        var m = new MemoryStream();
        o.SaveCheckpoint(m);
        return m.ToArray();
    }

    private static MultiPassOptimizer Make(int which, ParameterLayout layout) => which switch
    {
        0 => new Lamb(layout),
        1 => new Lars(layout) { WeightDecay = 1e-4 },
        2 => new AdamWScheduleFree(layout) { WeightDecay = 0.01 },
        _ => new DeclaredNormalizedMomentum(layout),
    };

    [Fact]
    public void ConcurrentOptimizersOnDifferentThreadsGiveTheSerialBits()
    {
        var layouts = new[] { new ParameterLayout([70_000, 5_000], [33_000]), new ParameterLayout([40_000, 300, 90_000]) };
        for (int which = 0; which < 4; which++)
        {
            float[][] serial = new float[4][];
            float[][] parallel = new float[4][];
            for (int run = 0; run < 2; run++)
            {
                var tasks = Enumerable.Range(0, 4).Select(k => (Func<float[]>)(() =>
                {
                    ParameterLayout layout = layouts[k % 2];
                    MultiPassOptimizer o = Make(which, layout);
                    o.MaxDegreeOfParallelism = 2;
                    o.ChangeStatePrecision(k < 2 ? StatePrecision.Int8Blockwise : StatePrecision.Int4Blockwise);
                    if (layout.GroupCount > 1)
                    {
                        o.Groups[1].StatePrecision = StatePrecision.BFloat16;
                    }

                    var random = new Random(k);
                    float[] p = Rand(random, layout.TotalLength, 0.2);
                    for (int t = 0; t < 12; t++)
                    {
                        o.Step(p, Rand(random, layout.TotalLength, 0.02));
                    }

                    return p;
                })).ToArray();
                if (run == 0)
                {
                    for (int k = 0; k < 4; k++)
                    {
                        serial[k] = tasks[k]();
                    }
                }
                else
                {
                    Thread[] threads = [.. Enumerable.Range(0, 4).Select(k => new Thread(() => parallel[k] = tasks[k]()))];
                    foreach (Thread thread in threads)
                    {
                        thread.Start();
                    }

                    foreach (Thread thread in threads)
                    {
                        thread.Join();
                    }
                }
            }

            for (int k = 0; k < 4; k++)
            {
                Assert.True(serial[k].AsSpan().SequenceEqual(parallel[k]), $"rule {which}, optimizer {k}");
            }
        }
    }

    [Fact]
    public void ARefusedStepLeavesQuantizedStateAsItWas()
    {
        var layout = new ParameterLayout([20_000, 100], [9_000]);
        for (int which = 0; which < 4; which++)
        {
            MultiPassOptimizer o = Make(which, layout);
            o.ChangeStatePrecision(StatePrecision.Int8Blockwise);
            o.Groups[1].StatePrecision = StatePrecision.Int4Blockwise;
            var random = new Random(1);
            float[] p = Rand(random, layout.TotalLength, 0.2);
            o.Step(p, Rand(random, layout.TotalLength, 0.02));
            byte[] before = Save(o);
            float[] pBefore = (float[])p.Clone();
            Assert.ThrowsAny<ArgumentException>(() => o.Step(p, new float[layout.TotalLength - 1]));
            Assert.Equal(before, Save(o));
            Assert.True(p.AsSpan().SequenceEqual(pBefore));
        }
    }

    [Fact]
    public void ScheduleFreeGroupPrecisionInEvalModeIsRefusedAndNothingChanges()
    {
        var layout = new ParameterLayout([20_000], [9_000]);
        var sf = new AdamWScheduleFree(layout);
        var random = new Random(1);
        float[] p = Rand(random, layout.TotalLength, 0.2);
        for (int t = 0; t < 3; t++)
        {
            sf.Step(p, Rand(random, layout.TotalLength, 0.02));
        }

        float[] y = (float[])p.Clone();
        sf.Eval(p);
        byte[] before = Save(sf);
        var ex = Assert.Throws<InvalidOperationException>(() => sf.Groups[1].StatePrecision = StatePrecision.Int8Blockwise);
        Assert.Contains("eval mode", ex.Message, StringComparison.Ordinal);
        Assert.Contains("before Setting a group's StatePrecision", ex.Message, StringComparison.Ordinal); // not ChangeStatePrecision, which was not called
        Assert.Null(sf.Groups[1].StatePrecision);
        Assert.Equal(before, Save(sf));
        sf.Train(p);
        Assert.True(p.AsSpan().SequenceEqual(y));
    }

    [Fact]
    public void ResetOfMixedGroupsKeepsPrecisionsAndRestartsBitIdentically()
    {
        var layout = new ParameterLayout([20_000, 100], [9_000]);
        for (int which = 0; which < 4; which++)
        {
            MultiPassOptimizer a = Make(which, layout), b = Make(which, layout);
            foreach (MultiPassOptimizer o in new[] { a, b })
            {
                o.ChangeStatePrecision(StatePrecision.Int4Blockwise);
                o.Groups[0].StatePrecision = StatePrecision.Int8Blockwise;
            }

            var random = new Random(5);
            float[] pa = Rand(random, layout.TotalLength, 0.2);
            float[] pb = (float[])pa.Clone();
            float[][] g = [.. Enumerable.Range(0, 6).Select(_ => Rand(random, layout.TotalLength, 0.02))];
            for (int t = 0; t < 3; t++)
            {
                a.Step(pa, g[t]);
            }

            a.Reset();
            pa = (float[])pb.Clone();
            Assert.Equal(Save(b), Save(a));
            for (int t = 3; t < 6; t++)
            {
                a.Step(pa, g[t]);
                b.Step(pb, g[t]);
            }

            Assert.True(pa.AsSpan().SequenceEqual(pb), $"rule {which}");
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void SumOfAPerTensorStateIsItsValueTimesTheTensorLength(bool bf16)
    {
        var layout = new ParameterLayout([1000, 37], [5]);
        var o = new ReviewSumOfTensorState(layout);
        if (bf16)
        {
            o.ChangeStatePrecision(StatePrecision.BFloat16);
        }

        var random = new Random(3);
        float[] p = Rand(random, layout.TotalLength, 0.2);
        double[] reference = [.. p.Select(x => (double)x)];
        for (int t = 0; t < 3; t++)
        {
            float[] g = Rand(random, layout.TotalLength, 0.5);
            o.Step(p, g);
            for (int j = 0; j < layout.TensorCount; j++)
            {
                int off = layout.ArenaOffsetOf(j), n = layout.LengthOf(j);
                double r = Enumerable.Range(off, n).Sum(i => (double)g[i] * g[i]) / n;
                if (bf16)
                {
                    r = (double)(float)(BitConverter.Int32BitsToSingle((int)((uint)BitConverter.SingleToInt32Bits((float)r) + 0x7FFF + ((BitConverter.SingleToInt32Bits((float)r) >> 16) & 1)) & unchecked((int)0xFFFF0000)));
                }

                for (int i = off; i < off + n; i++)
                {
                    reference[i] -= 0.01 * n * r * g[i];
                }
            }
        }

        for (int i = 0; i < p.Length; i++)
        {
            Assert.True(Math.Abs(p[i] - reference[i]) <= 1e-5 + (1e-4 * Math.Abs(reference[i])), $"element {i}: {p[i]} vs {reference[i]}");
        }
    }

    [Theory]
    [InlineData(StatePrecision.Int8Blockwise)]
    [InlineData(StatePrecision.Int4Blockwise)]
    public void ResetBlockwiseStateIsTheStateOfAFreshOptimizer(StatePrecision precision)
    {
        // A signed plane (Adam's m) reset to zeroed bytes held code 0 (−1 × absmax 0 = −0): another checkpoint than a
        // fresh optimizer's, and a −0 that a step can carry into a negative code.
        var layout = new ParameterLayout([8_192, 100]);
        var used = new Adam(layout);
        var fresh = new Adam(layout);
        used.ChangeStatePrecision(precision);
        fresh.ChangeStatePrecision(precision);
        var random = new Random(4);
        float[] p = Rand(random, layout.TotalLength, 0.2);
        used.Step(p, Rand(random, layout.TotalLength, 0.02));
        used.Reset();
        Assert.Equal(Save(fresh), Save(used));
    }

    [Fact]
    public void StatelessAndWriteOnlyDeclaredRulesTakeBlockwiseAndGroupPrecisions()
    {
        var layout = new ParameterLayout([9_000, 50], [5_000]);
        var random = new Random(8);
        float[] g = Rand(random, layout.TotalLength, 0.5);
        float[] p0 = Rand(random, layout.TotalLength, 0.2);
        foreach (Optimizer o in new Optimizer[] { new ReviewStatelessNormalized(layout), new ReviewWriteOnlyState(layout) })
        {
            o.ChangeStatePrecision(StatePrecision.Int8Blockwise);
            o.Groups[1].StatePrecision = StatePrecision.Int4Blockwise;
            float[] p = (float[])p0.Clone();
            o.Step(p, g);
            for (int j = 0; j < layout.TensorCount; j++)
            {
                int off = layout.ArenaOffsetOf(j), n = layout.LengthOf(j);
                double norm = Math.Sqrt(Enumerable.Range(off, n).Sum(i => (double)g[i] * g[i]));
                for (int i = off; i < off + n; i++)
                {
                    double expected = p0[i] - (0.01 * g[i] / (norm + 1e-6));
                    Assert.True(Math.Abs(p[i] - expected) <= 1e-6, $"{o.Descriptor.Name} element {i}: {p[i]} vs {expected}");
                }

                if (o is ReviewWriteOnlyState)
                {
                    float[] m = new float[n];
                    o.CopyState(o.Descriptor.States[0].Name, j, m);
                    double scale = Enumerable.Range(off, n).Max(i => Math.Abs(((double)g[i] * g[i]) - (0.5 * g[i])));
                    double tolerance = (layout.GroupOf(j) == 1 ? 0.25 : 0.02) * scale;
                    for (int i = 0; i < n; i++)
                    {
                        double expected = ((double)g[off + i] * g[off + i]) - (0.5 * g[off + i]);
                        Assert.True(Math.Abs(m[i] - expected) <= (n < 4096 ? 1e-6 : tolerance), $"m of tensor {j}, element {i}: {m[i]} vs {expected}");
                    }
                }
            }
        }
    }
}
