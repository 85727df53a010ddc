using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using OptGen.Kernels;

namespace OptGen.Engine;

/// <summary>
/// The fixed-order fold of two four-lane double accumulators and a scalar tail, used by an instance of
/// <see cref="Kernels.ReductionAccumulator"/>; the catalog's passes and the generated ones use <see cref="SquareLanes"/>'s order.
/// </summary>
internal static class SquareSum
{
    /// <summary>
    /// The sum of two lane accumulators and a scalar tail, in a fixed order: the one fold for loops that keep their
    /// accumulators in locals.
    /// </summary>
    public static double Fold(Vector256<double> low, Vector256<double> high, double tail)
    {
        Vector256<double> sum = low + high;
        return ((sum.GetElement(0) + sum.GetElement(1)) + (sum.GetElement(2) + sum.GetElement(3))) + tail;
    }
}

/// <summary>
/// Σx² of float32 elements in double for the catalog's reduction passes, kept in two accumulators of eight double
/// lanes that the caller holds in locals (so the JIT keeps them in registers): of every 16 consecutive elements the
/// first 8 are added into <c>even</c> and the last 8 into <c>odd</c>, lane by lane; a run of 8 left over goes into
/// <c>even</c>, single elements into a scalar tail. The 512-bit and the 256-bit paths add the same values in the same
/// order (a float's square is exact in double), so a unit's sum depends only on its data, not on the vector width
/// or the thread; <see cref="Fold"/> combines the lanes in a fixed order. The device repeats this order by hand
/// (<see cref="Gpu.GpuAdamMini"/>'s chains and fold; the GPU parity tests compare the bits): change both together.
/// </summary>
internal static class SquareLanes
{
    /// <summary>Adds the squares of 16 elements.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Add(Vector512<float> x, ref Vector512<double> even, ref Vector512<double> odd)
    {
        (Vector512<double> lo, Vector512<double> hi) = Vector512.Widen(x);
        even += lo * lo;
        odd += hi * hi;
    }

    /// <summary>Adds the squares of 16 elements given as two halves (the 256-bit path).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Add(Vector256<float> first, Vector256<float> second, ref Vector512<double> even, ref Vector512<double> odd)
    {
        Add(first, ref even);
        Add(second, ref odd);
    }

    /// <summary>Adds the squares of 8 elements into <paramref name="lanes"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Add(Vector256<float> x, ref Vector512<double> lanes)
    {
        (Vector256<double> lo, Vector256<double> hi) = Vector256.Widen(x);
        lanes += Vector512.Create(lo * lo, hi * hi);
    }

    /// <summary>Adds the square of one element to a scalar tail.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Add(float x, ref double tail) => tail += (double)x * x;

    /// <summary>Σ(scale·x)² over <paramref name="n"/> elements from <paramref name="x"/>, in this order of lanes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static double Sum<TCodec>(ref byte x, nuint n, float scale)
        where TCodec : struct, IElementCodec
    {
        Vector512<double> even = default, odd = default;
        double tail = 0;
        nuint i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            for (; i + 16 <= n; i += 16)
            {
                PassPrefetch.Ahead<TCodec>(ref x, i);
                Add(TCodec.Load512(ref x, i) * scale, ref even, ref odd);
            }
        }

        for (; i + 16 <= n; i += 16)
        {
            Add(TCodec.Load256(ref x, i) * scale, TCodec.Load256(ref x, i + 8) * scale, ref even, ref odd);
        }

        if (i + 8 <= n)
        {
            Add(TCodec.Load256(ref x, i) * scale, ref even);
            i += 8;
        }

        for (; i < n; i++)
        {
            Add(TCodec.Load(ref x, i) * scale, ref tail);
        }

        return Fold(even, odd, tail);
    }

    /// <summary>The sum of the two accumulators and the tail, in a fixed order.</summary>
    public static double Fold(Vector512<double> even, Vector512<double> odd, double tail)
    {
        Vector512<double> s = even + odd;
        return (((s.GetElement(0) + s.GetElement(1)) + (s.GetElement(2) + s.GetElement(3))) + ((s.GetElement(4) + s.GetElement(5)) + (s.GetElement(6) + s.GetElement(7)))) + tail;
    }
}

/// <summary>
/// A software prefetch a fixed distance ahead of a pass's element stream, for loops that do enough arithmetic per
/// cache line that the hardware prefetchers fall behind (measured on AMD Zen 5: Adafactor's first pass, one row at a
/// time, from 0.30 to 0.22 ns per element against 0.19 for a loop that only loads). A hint only: an address past the
/// end of the buffer is never read (prefetches do not fault), and nothing happens without SSE.
/// </summary>
internal static class PassPrefetch
{
    /// <summary>How far ahead, in bytes: 4 KiB (64 lines), measured best of 2, 3, 4, 6 and 8 KiB.</summary>
    public const int Distance = 4096;

    /// <summary>
    /// A shorter distance, 2 KiB, for LAMB's two passes: on two threads (step ÷ own yardstick, 16M / 64M, two runs
    /// each) 4 KiB gave 1.12/1.18, 1.24/1.17 and 2 KiB 1.03/1.11, 1.02/1.10, one thread unchanged; the other rules
    /// were no better (Adafactor worse: 1.04–1.17 against 0.99–1.04 at 4 KiB), and 8 KiB was worse for all.
    /// </summary>
    public const int Near = 2048;

    /// <summary>Prefetches the line <paramref name="distance"/> bytes (default <see cref="Distance"/>) past element <paramref name="index"/> of <paramref name="x"/> into L1.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe void Ahead<TCodec>(ref byte x, nuint index, nuint distance = Distance)
        where TCodec : struct, IElementCodec
    {
        if (Sse.IsSupported)
        {
            Sse.Prefetch0((byte*)Unsafe.AsPointer(ref x) + (index * (nuint)TCodec.ElementSize) + distance);
        }
    }
}

/// <summary>
/// torch.lerp's float32 formula, the one definition the rules that follow PyTorch's <c>lerp_</c> use:
/// a + w(b − a) for w &lt; ½, else b − (b − a)(1 − w).
/// </summary>
internal static class TorchLerp
{
    /// <summary>One element.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Of(float a, float b, float w) => w < 0.5f ? a + (w * (b - a)) : b - ((b - a) * (1 - w));

    /// <summary>Eight lanes, the same formula.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Of(Vector256<float> a, Vector256<float> b, float w) => w < 0.5f ? a + (w * (b - a)) : b - ((b - a) * (1 - w));

    /// <summary>Sixteen lanes, the same formula.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Of(Vector512<float> a, Vector512<float> b, float w) => w < 0.5f ? a + (w * (b - a)) : b - ((b - a) * (1 - w));
}
