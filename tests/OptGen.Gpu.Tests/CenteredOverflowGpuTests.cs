using System;
using System.Linq;
using ILGPU;
using ILGPU.Runtime;
using OptGen.Kernels;
using Xunit;

namespace OptGen.Gpu.Tests;

/// <summary>
/// Centered RMSprop's v − ḡ² is one fused multiply-add (as torch's <c>addcmul</c>), on the GPU too: with gradients of
/// ±1e30, ḡ² overflows float32 but v − ḡ² stays ∞, so the step is 0 (never ∞ − ∞ = NaN). ILGPU 1.5.3 cannot compile
/// <see cref="MathF.FusedMultiplyAdd"/> for CUDA, so the kernels call <see cref="ElementMath.FusedMultiplyAdd"/>:
/// <c>fma.rn.f32</c> on CUDA (checked in the PTX), correctly rounded in double elsewhere (run here on ILGPU's CPU
/// accelerator, bit-identical to the CPU SIMD path's fused multiply-add).
/// </summary>
public sealed class CenteredOverflowGpuTests(CpuAcceleratorFixture fixture) : IClassFixture<CpuAcceleratorFixture>
{
    private readonly Accelerator _accelerator = fixture.Accelerator;

    [Theory]
    [InlineData(typeof(RmsPropCentered), 1)]
    [InlineData(typeof(RmsPropCentered), 37)]
    [InlineData(typeof(RmsPropCenteredMomentum), 37)]
    [InlineData(typeof(RmsPropCenteredMomentum), 1025)]
    public void OverflowingGradientsStopTheElementAndMatchTheCpuBitForBit(Type type, int length)
    {
        Optimizer cpu = (Optimizer)Activator.CreateInstance(type, length)!;
        Optimizer host = (Optimizer)Activator.CreateInstance(type, length)!;
        using var gpu = new GpuOptimizer(host, _accelerator);
        var random = new Random(length);
        float[] p0 = [.. Enumerable.Range(0, length).Select(_ => (float)((random.NextDouble() * 2) - 1))];
        float[] p = (float[])p0.Clone();
        var g = new float[length];
        using MemoryBuffer1D<float, Stride1D.Dense> deviceP = _accelerator.Allocate1D(p);
        using MemoryBuffer1D<float, Stride1D.Dense> deviceG = _accelerator.Allocate1D<float>(length);
        bool Overflows(int i) => length == 1 || i % 5 == 2;
        for (int t = 1; t <= 6; t++)
        {
            for (int i = 0; i < length; i++)
            {
                g[i] = t == 1 && Overflows(i) ? (i % 2 == 0 ? 1e30f : -1e30f) : (float)((random.NextDouble() * 2) - 1);
            }

            cpu.Step(p, g);
            deviceG.CopyFromCPU(g);
            gpu.Step(deviceP, deviceG);
            _accelerator.Synchronize();
            float[] actual = deviceP.GetAsArray1D();
            float[] v = new float[length];
            gpu.CopyState("SecondMoment", v);
            for (int i = 0; i < length; i++)
            {
                Assert.True(float.IsFinite(actual[i]), $"{type.Name}, step {t}, element {i}: p = {actual[i]}");
                Assert.Equal(BitConverter.SingleToInt32Bits(p[i]), BitConverter.SingleToInt32Bits(actual[i]));
                if (Overflows(i))
                {
                    Assert.Equal(float.PositiveInfinity, v[i]);
                    Assert.Equal(BitConverter.SingleToInt32Bits(p0[i]), BitConverter.SingleToInt32Bits(actual[i])); // torch: g/∞ = 0
                }
            }
        }
    }

    [Fact]
    public void CenteredKernelsCompileTheFusedMultiplyAddToOnePtxInstruction()
    {
        foreach (Type type in new[] { typeof(RmsPropCentered), typeof(RmsPropCenteredMomentum) })
        {
            string ptx = PtxSnapshotTests.CompileToPtx(type);
            Assert.Contains("fma.rn.f32", ptx, StringComparison.Ordinal);
            Assert.DoesNotContain(".extern", ptx, StringComparison.Ordinal); // MathF.FusedMultiplyAdd would be an undefined external function
        }
    }

    [Fact]
    public void ElementFusedMultiplyAddInAKernelEqualsMathF()
    {
        var random = new Random(3);
        const int n = 4096;
        float[] a = new float[n], b = new float[n], c = new float[n];
        for (int i = 0; i < n; i++)
        {
            a[i] = (float)(((random.NextDouble() * 2) - 1) * Math.Pow(2, random.Next(-70, 70)));
            b[i] = (float)(((random.NextDouble() * 2) - 1) * Math.Pow(2, random.Next(-70, 70)));
            c[i] = i % 2 == 0 ? -(a[i] * b[i]) : (float)(((random.NextDouble() * 2) - 1) * Math.Pow(2, random.Next(-70, 70)));
        }

        a[0] = -1e28f;
        b[0] = 1e28f;
        c[0] = float.PositiveInfinity;
        using MemoryBuffer1D<float, Stride1D.Dense> da = _accelerator.Allocate1D(a), db = _accelerator.Allocate1D(b), dc = _accelerator.Allocate1D(c), result = _accelerator.Allocate1D<float>(n);
        _accelerator.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>>(FusedKernel)(n, da.View, db.View, dc.View, result.View);
        _accelerator.Synchronize();
        float[] actual = result.GetAsArray1D();
        for (int i = 0; i < n; i++)
        {
            Assert.Equal(BitConverter.SingleToInt32Bits(MathF.FusedMultiplyAdd(a[i], b[i], c[i])), BitConverter.SingleToInt32Bits(actual[i]));
        }

        Assert.Equal(float.PositiveInfinity, actual[0]);
    }

    private static void FusedKernel(Index1D i, ArrayView<float> a, ArrayView<float> b, ArrayView<float> c, ArrayView<float> result) =>
        result[i] = ElementMath.FusedMultiplyAdd(a[i], b[i], c[i]);
}
