using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace OptGen.Engine;

/// <summary>
/// Σx² of float32 lanes in double, for the reduction passes: eight lanes widened into two Vector256&lt;double&gt;
/// accumulators, folded in a fixed order at the end, so a sum depends only on the data of its unit.
/// </summary>
internal struct SquareSum
{
    private Vector256<double> _low;
    private Vector256<double> _high;
    private double _tail;

    /// <summary>Adds the squares of eight lanes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Add(Vector256<float> x)
    {
        (Vector256<double> lo, Vector256<double> hi) = Vector256.Widen(x);
        _low += lo * lo;
        _high += hi * hi;
    }

    /// <summary>Adds the square of one element (a scalar tail).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Add(float x) => _tail += (double)x * x;

    /// <summary>The sum, folded in a fixed order.</summary>
    public readonly double Total => Fold(_low, _high, _tail);

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
}
