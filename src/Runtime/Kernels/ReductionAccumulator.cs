using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace OptGen.Kernels;

/// <summary>
/// One work unit's partial result of a generated rule's reduction (<see cref="ReductionKind"/>), accumulated in
/// double: eight lanes widened into two <see cref="Vector256{T}"/> of double plus a scalar tail, folded in a fixed
/// order, so the result depends only on the unit's data (never on the thread that ran it). Generated passes call the
/// static methods instead, with two accumulators of eight double lanes and a tail held in locals (so the JIT keeps
/// them in registers), in the catalog's 16-element lane order (of every 16 elements the first 8 into <c>even</c>,
/// the last 8 into <c>odd</c>, on the 512- and the 256-bit path alike).
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

    /// <summary>Adds 16 lanes (sum and mean): the first 8 into <paramref name="even"/>, the last 8 into <paramref name="odd"/>.</summary>
    /// <param name="x">The lanes.</param>
    /// <param name="even">The accumulator of the first eight lanes.</param>
    /// <param name="odd">The accumulator of the last eight lanes.</param>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Add(Vector512<float> x, ref Vector512<double> even, ref Vector512<double> odd)
    {
        (Vector512<double> lo, Vector512<double> hi) = Vector512.Widen(x);
        even += lo;
        odd += hi;
    }

    /// <summary>Adds 8 lanes (sum and mean) into one eight-lane accumulator, lane by lane (the 256-bit path of the 16-lane order).</summary>
    /// <param name="x">The lanes.</param>
    /// <param name="lanes">The accumulator.</param>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Add(Vector256<float> x, ref Vector512<double> lanes)
    {
        (Vector256<double> lo, Vector256<double> hi) = Vector256.Widen(x);
        lanes += Vector512.Create(lo, hi);
    }

    /// <summary>Adds the squares of 16 lanes (norm): the first 8 into <paramref name="even"/>, the last 8 into <paramref name="odd"/>.</summary>
    /// <param name="x">The lanes.</param>
    /// <param name="even">The accumulator of the first eight lanes.</param>
    /// <param name="odd">The accumulator of the last eight lanes.</param>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void AddSquares(Vector512<float> x, ref Vector512<double> even, ref Vector512<double> odd) => Engine.SquareLanes.Add(x, ref even, ref odd);

    /// <summary>Adds the squares of 8 lanes into one eight-lane accumulator, lane by lane (the 256-bit path of the 16-lane order).</summary>
    /// <param name="x">The lanes.</param>
    /// <param name="lanes">The accumulator.</param>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void AddSquares(Vector256<float> x, ref Vector512<double> lanes) => Engine.SquareLanes.Add(x, ref lanes);

    /// <summary>Keeps the largest |x| of 16 lanes (maxabs); a NaN lane makes the result NaN.</summary>
    /// <param name="x">The lanes.</param>
    /// <param name="even">The accumulator of the first eight lanes.</param>
    /// <param name="odd">The accumulator of the last eight lanes.</param>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void AddMaxAbs(Vector512<float> x, ref Vector512<double> even, ref Vector512<double> odd)
    {
        (Vector512<double> lo, Vector512<double> hi) = Vector512.Widen(Vector512.Abs(x));
        even = Vector512.Max(even, lo);
        odd = Vector512.Max(odd, hi);
    }

    /// <summary>Keeps the largest |x| of 8 lanes in one eight-lane accumulator.</summary>
    /// <param name="x">The lanes.</param>
    /// <param name="lanes">The accumulator.</param>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void AddMaxAbs(Vector256<float> x, ref Vector512<double> lanes)
    {
        (Vector256<double> lo, Vector256<double> hi) = Vector256.Widen(Vector256.Abs(x));
        lanes = Vector512.Max(lanes, Vector512.Create(lo, hi));
    }

    /// <summary>The sum of two eight-lane accumulators and a tail, folded in a fixed order.</summary>
    /// <param name="even">The accumulator of the first eight of every 16 lanes.</param>
    /// <param name="odd">The accumulator of the last eight.</param>
    /// <param name="tail">The scalar tail.</param>
    /// <returns>The sum.</returns>
    public static double Fold(Vector512<double> even, Vector512<double> odd, double tail) => Engine.SquareLanes.Fold(even, odd, tail);

    /// <summary>The largest |x| of two eight-lane accumulators and a tail (0 if none).</summary>
    /// <param name="even">The accumulator of the first eight of every 16 lanes.</param>
    /// <param name="odd">The accumulator of the last eight.</param>
    /// <param name="tail">The scalar tail.</param>
    /// <returns>The largest |x|.</returns>
    public static double FoldMaxAbs(Vector512<double> even, Vector512<double> odd, double tail)
    {
        Vector512<double> max = Vector512.Max(even, odd);
        return FoldMaxAbs(max.GetLower(), max.GetUpper(), tail);
    }
}
