using System;
using System.Runtime.Intrinsics;
using ILGPU;
using ILGPU.Runtime;
using OptGen.Kernels;
using Xunit;

namespace OptGen.Gpu.Tests;

/// <summary>
/// The GPU element codecs (<see cref="GpuElements"/>) give the CPU codecs' bits: every 16-bit pattern widens to the
/// same float, and float32 values (random bit patterns over every exponent, ties, subnormals, overflow, ±0, ±∞) round
/// to the same half/bfloat16 bits, stochastic rounding included. Checked both as host code and compiled by ILGPU
/// into a kernel on the CPU accelerator.
/// </summary>
public sealed class GpuElementsTests : IClassFixture<CpuAcceleratorFixture>
{
    private readonly Accelerator _accelerator;

    public GpuElementsTests(CpuAcceleratorFixture fixture) => _accelerator = fixture.Accelerator;

    [Fact]
    public void EverySixteenBitPatternWidensAsOnTheCpu()
    {
        ushort[] bits = new ushort[65536];
        for (int i = 0; i < bits.Length; i++)
        {
            bits[i] = (ushort)i;
        }

        using MemoryBuffer1D<ushort, Stride1D.Dense> input = _accelerator.Allocate1D(bits);
        using MemoryBuffer1D<float, Stride1D.Dense> half = _accelerator.Allocate1D<float>(bits.Length);
        using MemoryBuffer1D<float, Stride1D.Dense> bfloat = _accelerator.Allocate1D<float>(bits.Length);
        _accelerator.LoadAutoGroupedStreamKernel<Index1D, ArrayView<ushort>, ArrayView<float>, ArrayView<float>>(WidenKernel)(bits.Length, input.View, half.View, bfloat.View);
        float[] deviceHalf = half.GetAsArray1D();
        float[] deviceBFloat = bfloat.GetAsArray1D();
        for (int i = 0; i < bits.Length; i++)
        {
            // The SIMD widening (the scalar one, .NET's, quiets signalling NaNs; the SIMD one, like the GPU, keeps the payload).
            ushort b = bits[i];
            var lanes = System.Runtime.Intrinsics.Vector128.Create(b, (ushort)0, (ushort)0, (ushort)0, (ushort)0, (ushort)0, (ushort)0, (ushort)0);
            float expectedHalf = HalfCodec.Load128(ref Bytes(ref lanes), 0).GetElement(0);
            if (!float.IsNaN(expectedHalf))
            {
                AssertSameBits((float)BitConverter.UInt16BitsToHalf(b), expectedHalf, $"half {b:X4} (CPU scalar)");
            }

            float expectedBFloat = BFloat16Codec.Load(ref Bytes(ref b), 0);
            AssertSameBits(expectedHalf, GpuElements.WidenHalf(b), $"half {b:X4} (host)");
            AssertSameBits(expectedHalf, deviceHalf[i], $"half {b:X4} (kernel)");
            AssertSameBits(expectedBFloat, GpuElements.WidenBFloat16(b), $"bfloat16 {b:X4} (host)");
            AssertSameBits(expectedBFloat, deviceBFloat[i], $"bfloat16 {b:X4} (kernel)");
        }
    }

    [Fact]
    public void NarrowingRoundsAsTheCpuCodecs()
    {
        float[] values = Values();
        const ulong seed = 77;
        const long step = 3;
        using MemoryBuffer1D<float, Stride1D.Dense> input = _accelerator.Allocate1D(values);
        using MemoryBuffer1D<ushort, Stride1D.Dense> half = _accelerator.Allocate1D<ushort>(values.Length);
        using MemoryBuffer1D<ushort, Stride1D.Dense> bfloat = _accelerator.Allocate1D<ushort>(values.Length);
        using MemoryBuffer1D<ushort, Stride1D.Dense> stochastic = _accelerator.Allocate1D<ushort>(values.Length);
        var launch = new GpuLaunch { Step = step, RoundingSeed = seed };
        _accelerator.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<ushort>, ArrayView<ushort>, ArrayView<ushort>, GpuLaunch>(NarrowKernel)(
            values.Length, input.View, half.View, bfloat.View, stochastic.View, launch);
        _accelerator.Synchronize();
        ushort[] deviceHalf = half.GetAsArray1D();
        ushort[] deviceBFloat = bfloat.GetAsArray1D();
        ushort[] deviceStochastic = stochastic.GetAsArray1D();

        // The CPU reference: the SIMD codecs (4 lanes at a time) and, for stochastic rounding, the arena position
        // (the kernel stores element i at position i): the first half as one call from position 0, the second as
        // another call whose element 0 is position `split`.
        ushort[] cpuHalf = new ushort[values.Length];
        ushort[] cpuBFloat = new ushort[values.Length];
        ushort[] cpuStochastic = new ushort[values.Length];
        const int split = 5008;
        for (int i = 0; i + 4 <= values.Length; i += 4)
        {
            var v = System.Runtime.Intrinsics.Vector128.Create(values[i], values[i + 1], values[i + 2], values[i + 3]);
            HalfCodec.Store128(ref Bytes(ref cpuHalf[0]), (nuint)i, v);
            BFloat16Codec.Store128(ref Bytes(ref cpuBFloat[0]), (nuint)i, v);
            StochasticRounding.SetSeed(seed, step, i < split ? 0 : split);
            StochasticBFloat16Codec.Store128(ref Bytes(ref cpuStochastic[i < split ? 0 : split]), (nuint)(i < split ? i : i - split), v);
        }

        for (int i = 0; i < values.Length; i++)
        {
            Assert.True(cpuHalf[i] == GpuElements.NarrowHalf(values[i]), $"half of {values[i]:R} ({BitConverter.SingleToUInt32Bits(values[i]):X8}): CPU {cpuHalf[i]:X4}, GPU host {GpuElements.NarrowHalf(values[i]):X4}");
            Assert.True(cpuHalf[i] == deviceHalf[i], $"half of {values[i]:R}: CPU {cpuHalf[i]:X4}, kernel {deviceHalf[i]:X4}");
            Assert.True(cpuBFloat[i] == deviceBFloat[i], $"bfloat16 of {values[i]:R}: CPU {cpuBFloat[i]:X4}, kernel {deviceBFloat[i]:X4}");
            Assert.True(cpuStochastic[i] == deviceStochastic[i], $"stochastic bfloat16 of {values[i]:R} at {i}: CPU {cpuStochastic[i]:X4}, kernel {deviceStochastic[i]:X4}");
            if (!float.IsNaN(values[i]))
            {
                // And the scalar definition: .NET's own conversion.
                Assert.Equal(BitConverter.HalfToUInt16Bits((System.Half)values[i]), deviceHalf[i]);
            }
        }
    }

    private static void WidenKernel(Index1D i, ArrayView<ushort> bits, ArrayView<float> half, ArrayView<float> bfloat)
    {
        half[i] = GpuElements.Load(GpuCodec.Half, ArrayView<float>.Empty, bits, i);
        bfloat[i] = GpuElements.Load(GpuCodec.BFloat16, ArrayView<float>.Empty, bits, i);
    }

    private static void NarrowKernel(Index1D i, ArrayView<float> values, ArrayView<ushort> half, ArrayView<ushort> bfloat, ArrayView<ushort> stochastic, GpuLaunch launch)
    {
        GpuElements.Store(GpuCodec.Half, ArrayView<float>.Empty, half, i, values[i], launch, 2, 16384 + i);
        GpuElements.Store(GpuCodec.BFloat16, ArrayView<float>.Empty, bfloat, i, values[i], launch, 2, 16384 + i);
        GpuElements.Store(GpuCodec.StochasticBFloat16, ArrayView<float>.Empty, stochastic, i, values[i], launch, 2, 16384 + i);
    }

    /// <summary>Random bit patterns (every exponent, NaNs included), values near half's limits and its ties, ±0, ±∞: a multiple of 4, below 16384.</summary>
    private static float[] Values()
    {
        var random = new Random(5);
        float[] values = new float[12000];
        int n = 0;
        foreach (float special in new[] { 0f, -0f, float.PositiveInfinity, float.NegativeInfinity, float.NaN, 65504f, 65520f, 65519.99f, -65520f, 6.1035156e-05f, 5.9604645e-08f, 2.9802322e-08f, 2.9802326e-08f, 1f + (1f / 2048), 1f + (3f / 2048), float.Epsilon, float.MaxValue })
        {
            values[n++] = special;
        }

        while (n < values.Length)
        {
            uint bits = (uint)random.NextInt64(0, 1L << 32);
            values[n++] = random.Next(2) == 0 ? BitConverter.UInt32BitsToSingle(bits) : (float)((random.NextDouble() - 0.5) * Math.Pow(2, random.Next(-30, 20)));
        }

        return values;
    }

    private static ref byte Bytes<T>(ref T value)
        where T : unmanaged => ref System.Runtime.CompilerServices.Unsafe.As<T, byte>(ref value);

    private static void AssertSameBits(float expected, float actual, string what) =>
        Assert.True(BitConverter.SingleToUInt32Bits(expected) == BitConverter.SingleToUInt32Bits(actual), $"{what}: expected {expected:R}, got {actual:R}");
}
