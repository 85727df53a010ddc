using System;
using System.Collections.Generic;
using System.Linq;
using System.Runtime.Intrinsics;
using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.CPU;
using OptGen.Engine;
using OptGen.Gpu;
using OptGen.Kernels;
using Xunit;

namespace OptGen.Distributed.Tests;

/// <summary>
/// max |gᵢ| of the norm pass has one combine rule (<see cref="LargestMagnitude"/>), and its four users agree bit for
/// bit on NaN, ±∞ and −0: the CPU's vector and scalar reduction and its piece combine (a CPU step), the GPU's lane, piece and total kernels (a GPU step on ILGPU's CPU accelerator), and the combine across
/// shards (<see cref="GradientSummary.Combine"/>, in every rotation). Each is compared with the largest non-NaN |gᵢ|
/// computed here in double. Before, the CPU's tail and lane fold used Math.Max (a NaN won) and its vectors
/// MaxNative (a NaN won or lost by lane position), while the GPU and the shard combine ignored NaN.
/// </summary>
public sealed class LargestMagnitudeAgreementTests : IDisposable
{
    // Tensor 0 spans three pieces of the norm pass (16384 elements), its last with a scalar tail of 3; tensor 1 has two
    // vector blocks and a tail of 5; tensor 2 is a tail only.
    private static readonly ParameterLayout Layout = new([40003, 37, 5]);

    private readonly Context _context = Context.Create(builder => builder.DefaultCPU().Optimize(OptimizationLevel.O1));
    private readonly Accelerator _accelerator;

    public LargestMagnitudeAgreementTests() => _accelerator = _context.CreateCPUAccelerator(0);

    public void Dispose()
    {
        _accelerator.Dispose();
        _context.Dispose();
    }

    /// <summary>Named gradient arenas: special values at positions in vector blocks (both halves of a 16-element block), tails and pieces.</summary>
    public static TheoryData<string> Cases() => [.. Gradients().Keys];

    private static Dictionary<string, float[]> Gradients()
    {
        int n = Layout.TotalLength;
        float[] Small()
        {
            var random = new Random(3);
            return [.. Enumerable.Range(0, n).Select(_ => (float)(random.NextDouble() - 0.5))];
        }

        float[] With(params (int Index, float Value)[] values)
        {
            float[] g = Small();
            foreach ((int index, float value) in values)
            {
                g[index] = value;
            }

            return g;
        }

        int tail0 = 40002, block1 = 40003 + 20, tail1 = 40003 + 35, only2 = 40003 + 37 + 2;
        return new Dictionary<string, float[]>
        {
            ["finite"] = With((17000, -7.5f), (tail1, 7.25f)),
            ["NaN in the first half of a block, above the maximum's lane"] = With((3, float.NaN), (11, 2.5f)),
            ["NaN in the second half of a block"] = With((12, float.NaN), (4, 2.5f)),
            ["NaN in every tail"] = With((tail0, float.NaN), (tail1, float.NaN), (only2, float.NaN), (block1, -3f)),
            ["NaN in every piece, the maximum after them"] = With((0, float.NaN), (16384, float.NaN), (32768, float.NaN), (39000, 9f)),
            ["+∞ in a block, NaN beside it"] = With((5, float.PositiveInfinity), (13, float.NaN)),
            ["−∞ in a tail"] = With((tail1, float.NegativeInfinity)),
            ["NaN then −∞ in one lane"] = With((16, float.NaN), (32, float.NegativeInfinity)),
            ["all −0"] = [.. Enumerable.Repeat(-0f, n)],
            ["−0 and +0 alternating"] = [.. Enumerable.Range(0, n).Select(i => i % 2 == 0 ? -0f : 0f)],
            ["all NaN"] = [.. Enumerable.Repeat(float.NaN, n)],
            ["NaN and −0 only"] = [.. Enumerable.Range(0, n).Select(i => i % 3 == 0 ? float.NaN : -0f)],
            ["float.MaxValue and a subnormal"] = With((7, -float.MaxValue), (tail0, float.Epsilon)),
        };
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void CpuGpuAndShardCombineAgreeWithTheLargestNonNaNMagnitude(string name)
    {
        float[] g = Gradients()[name];
        float expected = Reference(g);

        AssertSame(expected, CpuSummary(g), "CPU");

        AssertSame(expected, GpuSummary(g), "GPU (ILGPU CPU accelerator)");

        // Shards: each part's maximum, and a part whose maximum is NaN and one whose maximum is −0 (the combine's own
        // rule, whatever a part reports), combined in every rotation.
        int[] cuts = [0, 7, 16384 + 3, 40003 + 21, Layout.TotalLength];
        GradientSummary[] parts =
        [
            .. cuts.Zip(cuts.Skip(1), (a, b) => CpuSummary(g[a..b])),
            new GradientSummary(double.NaN, float.NaN),
            new GradientSummary(0, -0f),
        ];
        for (int r = 0; r < parts.Length; r++)
        {
            GradientSummary[] rotated = [.. parts.Skip(r), .. parts.Take(r)];
            AssertSame(expected, GradientSummary.Combine(rotated).MaxMagnitude, $"shard combine, rotation {r}");
        }
    }

    /// <summary>The vector rule with and without AVX, lane by lane, against the scalar rule on every pair of special values.</summary>
    [Fact]
    public void TheVectorRuleIsTheScalarRuleLaneByLane()
    {
        float[] values = [float.NaN, -float.NaN, float.PositiveInfinity, 0f, -0f, 1f, float.Epsilon, float.MaxValue];
        foreach (float current in values)
        {
            foreach (float candidate in values)
            {
                float scalar = LargestMagnitude.Combine(current, candidate);
                Assert.Equal(BitConverter.SingleToInt32Bits(scalar), BitConverter.SingleToInt32Bits((float)LargestMagnitude.Combine((double)current, candidate)));
                foreach (Vector256<float> lanes in new[]
                {
                    LargestMagnitude.Combine(Vector256.Create(current), Vector256.Create(candidate)),
                    LargestMagnitude.Portable(Vector256.Create(current), Vector256.Create(candidate)),
                })
                {
                    for (int lane = 0; lane < Vector256<float>.Count; lane++)
                    {
                        Assert.True(
                            BitConverter.SingleToInt32Bits(scalar) == BitConverter.SingleToInt32Bits(lanes.GetElement(lane)),
                            $"Combine({current}, {candidate}): scalar {scalar}, lane {lane} {lanes.GetElement(lane)}");
                    }
                }
            }
        }

        // The documented rule: a NaN candidate never replaces the maximum.
        Assert.Equal(2f, LargestMagnitude.Combine(2f, float.NaN));
        Assert.Equal(float.PositiveInfinity, LargestMagnitude.Combine(2f, float.PositiveInfinity));
        Assert.Equal(BitConverter.SingleToInt32Bits(0f), BitConverter.SingleToInt32Bits(LargestMagnitude.Combine(0f, -0f)));
    }

    /// <summary>The largest |gᵢ| over the non-NaN elements, +0 when there are none, computed in double.</summary>
    private static float Reference(float[] g)
    {
        double max = 0;
        foreach (float x in g)
        {
            if (!double.IsNaN(x) && Math.Abs((double)x) > max)
            {
                max = Math.Abs((double)x);
            }
        }

        return (float)max;
    }

    private static GradientSummary CpuSummary(float[] g) => CpuSummary(g.Length == Layout.TotalLength ? Layout : new ParameterLayout([g.Length]), g);

    private static GradientSummary CpuSummary(ParameterLayout layout, float[] g)
    {
        var sgd = new Sgd(layout) { LearningRate = 1e-3 };
        var capture = new Capture();
        sgd.GradientReducer = capture;
        float[] p = new float[layout.TotalLength];
        sgd.Step(p, g, new StepOptions { ComputeGradientNorm = true });
        return capture.Seen ?? throw new InvalidOperationException("The step did not summarize the gradients.");
    }

    private GradientSummary GpuSummary(float[] g)
    {
        var host = new Sgd(Layout) { LearningRate = 1e-3 };
        var capture = new Capture();
        host.GradientReducer = capture;
        using var gpu = new GpuOptimizer(host, _accelerator);
        float[] p = new float[Layout.TotalLength];

        // SkipNonFinite: the engine reads the device's summary back and passes it through the host's reducer.
        gpu.Step(p, g, new StepOptions { SkipNonFinite = true });
        return capture.Seen ?? throw new InvalidOperationException("The step did not summarize the gradients.");
    }

    private static void AssertSame(float expected, GradientSummary actual, string where) => AssertSame(expected, actual.MaxMagnitude, where);

    private static void AssertSame(float expected, float actual, string where) =>
        Assert.True(
            BitConverter.SingleToInt32Bits(expected) == BitConverter.SingleToInt32Bits(actual),
            $"{where}: max |g| {actual} (0x{BitConverter.SingleToInt32Bits(actual):X8}), expected {expected} (0x{BitConverter.SingleToInt32Bits(expected):X8})");

    /// <summary>A one-process reducer that records the partial summary and passes it on unchanged.</summary>
    private sealed class Capture : IGradientSummaryReducer
    {
        public GradientSummary? Seen { get; private set; }

        public GradientSummary Reduce(GradientSummary partial)
        {
            Seen = partial;
            return partial;
        }
    }
}
