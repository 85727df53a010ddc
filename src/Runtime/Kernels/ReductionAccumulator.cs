using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace OptGen.Kernels;

/// <summary>
/// One work unit's partial result of a generated rule's reduction (<see cref="ReductionKind"/>), accumulated in
/// double: eight lanes widened into two <see cref="Vector256{T}"/> of double plus a scalar tail, folded in a fixed
/// order, so the result depends only on the unit's data (never on the thread that ran it). Generated passes hold the
/// two lane accumulators and the tail in locals (so the JIT keeps them in registers) and call the static methods;
/// an instance adds the same values in the same order.
/// </summary>
[StructLayout(LayoutKind.Auto)]
public struct ReductionAccumulator
{
    private Vector256<double> _low;
    private Vector256<double> _high;
    private double _tail;

    /// <summary>Adds eight lanes (sum and mean).</summary>
    /// <param name="x">The lanes.</param>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Add(Vector256<float> x)
    {
        (Vector256<double> lo, Vector256<double> hi) = Vector256.Widen(x);
        _low += lo;
        _high += hi;
    }

    /// <summary>Adds one element (a scalar tail).</summary>
    /// <param name="x">The element.</param>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Add(float x) => _tail += x;

    /// <summary>Adds the squares of eight lanes (norm).</summary>
    /// <param name="x">The lanes.</param>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void AddSquares(Vector256<float> x)
    {
        (Vector256<double> lo, Vector256<double> hi) = Vector256.Widen(x);
        _low += lo * lo;
        _high += hi * hi;
    }

    /// <summary>Adds the square of one element.</summary>
    /// <param name="x">The element.</param>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void AddSquares(float x) => _tail += (double)x * x;

    /// <summary>Keeps the largest |x| of eight lanes (maxabs); a NaN lane makes the result NaN.</summary>
    /// <param name="x">The lanes.</param>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void AddMaxAbs(Vector256<float> x)
    {
        (Vector256<double> lo, Vector256<double> hi) = Vector256.Widen(Vector256.Abs(x));
        _low = Vector256.Max(_low, lo);
        _high = Vector256.Max(_high, hi);
    }

    /// <summary>Keeps the largest |x| of one element.</summary>
    /// <param name="x">The element.</param>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void AddMaxAbs(float x) => _tail = System.Math.Max(_tail, System.Math.Abs((double)x));

    /// <summary>The sum (of values or squares), folded in a fixed order.</summary>
    public readonly double Total => Fold(_low, _high, _tail);

    /// <summary>The largest |x| seen (0 if none).</summary>
    public readonly double MaxAbs => FoldMaxAbs(_low, _high, _tail);

    /// <summary>Adds eight lanes (sum and mean) into two lane accumulators held by the caller.</summary>
    /// <param name="x">The lanes.</param>
    /// <param name="low">The accumulator of the first four lanes.</param>
    /// <param name="high">The accumulator of the last four lanes.</param>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Add(Vector256<float> x, ref Vector256<double> low, ref Vector256<double> high)
    {
        (Vector256<double> lo, Vector256<double> hi) = Vector256.Widen(x);
        low += lo;
        high += hi;
    }

    /// <summary>Adds one element to a scalar tail.</summary>
    /// <param name="x">The element.</param>
    /// <param name="tail">The tail.</param>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Add(float x, ref double tail) => tail += x;

    /// <summary>Adds the squares of eight lanes (norm) into two lane accumulators held by the caller.</summary>
    /// <param name="x">The lanes.</param>
    /// <param name="low">The accumulator of the first four lanes.</param>
    /// <param name="high">The accumulator of the last four lanes.</param>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void AddSquares(Vector256<float> x, ref Vector256<double> low, ref Vector256<double> high)
    {
        (Vector256<double> lo, Vector256<double> hi) = Vector256.Widen(x);
        low += lo * lo;
        high += hi * hi;
    }

    /// <summary>Adds the square of one element to a scalar tail.</summary>
    /// <param name="x">The element.</param>
    /// <param name="tail">The tail.</param>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void AddSquares(float x, ref double tail) => tail += (double)x * x;

    /// <summary>Keeps the largest |x| of eight lanes (maxabs) in two lane accumulators held by the caller; a NaN lane makes the result NaN.</summary>
    /// <param name="x">The lanes.</param>
    /// <param name="low">The accumulator of the first four lanes.</param>
    /// <param name="high">The accumulator of the last four lanes.</param>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void AddMaxAbs(Vector256<float> x, ref Vector256<double> low, ref Vector256<double> high)
    {
        (Vector256<double> lo, Vector256<double> hi) = Vector256.Widen(Vector256.Abs(x));
        low = Vector256.Max(low, lo);
        high = Vector256.Max(high, hi);
    }

    /// <summary>Keeps the largest |x| of one element in a scalar tail.</summary>
    /// <param name="x">The element.</param>
    /// <param name="tail">The tail.</param>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void AddMaxAbs(float x, ref double tail) => tail = System.Math.Max(tail, System.Math.Abs((double)x));

    /// <summary>The sum (of values or squares) of two lane accumulators and a tail, folded in a fixed order.</summary>
    /// <param name="low">The accumulator of the first four lanes.</param>
    /// <param name="high">The accumulator of the last four lanes.</param>
    /// <param name="tail">The scalar tail.</param>
    /// <returns>The sum.</returns>
    public static double Fold(Vector256<double> low, Vector256<double> high, double tail) => Engine.SquareSum.Fold(low, high, tail);

    /// <summary>The largest |x| of two lane accumulators and a tail (0 if none).</summary>
    /// <param name="low">The accumulator of the first four lanes.</param>
    /// <param name="high">The accumulator of the last four lanes.</param>
    /// <param name="tail">The scalar tail.</param>
    /// <returns>The largest |x|.</returns>
    public static double FoldMaxAbs(Vector256<double> low, Vector256<double> high, double tail)
    {
        Vector256<double> max = Vector256.Max(low, high);
        return System.Math.Max(System.Math.Max(System.Math.Max(max.GetElement(0), max.GetElement(1)), System.Math.Max(max.GetElement(2), max.GetElement(3))), tail);
    }
}
