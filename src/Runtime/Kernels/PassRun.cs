using System;
using System.ComponentModel;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace OptGen.Kernels;

/// <summary>
/// One run of a pass of a rule with row, column or block reductions (docs/expressions.md, "Reductions"): a stretch of
/// one work unit inside one row and one block of every block length the rule uses, so every row-, block- and
/// tensor-scope value is the same over it and its columns are consecutive. The runtime fills it; generated code walks
/// a unit with <see cref="MoveNext"/> and reads the fields; user code does not use it.
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public ref struct PassRun
{
    /// <summary>The run's first parameter element.</summary>
    public ref byte Parameters;

    /// <summary>The run's first gradient element.</summary>
    public ref byte Gradients;

    /// <summary>The state's first byte; state plane k's value for the run is <see cref="Planes"/>[k] bytes after it.</summary>
    public ref byte State;

    /// <summary>
    /// Per state plane, the byte offset from <see cref="State"/> of the run's value: the run's first element for a
    /// per-element state, the run's row (block) for a compact per-row (per-block) state, its first column for a compact
    /// per-column state.
    /// </summary>
    public ReadOnlySpan<nint> Planes;

    /// <summary>The number of elements in the run.</summary>
    public nuint Length;

    /// <summary>Pass 1: one slot per reduction, where the kernel writes the run's partial result of each tensor-, row- or block-scope reduction.</summary>
    public Span<double> Partials;

    /// <summary>Pass 1: the unit's partial sums of the run's first column for the first column reduction; column reduction c is c·<see cref="ColumnStride"/> later.</summary>
    public ref double Columns;

    /// <summary>The distance between two column reductions' partials (the tensor's columns over all its matrices).</summary>
    public nuint ColumnStride;

    /// <summary>Pass 2: one slot per reduction, the finished value of each tensor-, row- or block-scope reduction for the run.</summary>
    public ReadOnlySpan<double> Values;

    /// <summary>Pass 2: the finished value of the first column reduction at the run's first column; column reduction c is c·<see cref="ColumnStride"/> later.</summary>
    public ref float ColumnValues;

    internal RunCursor Cursor;

    internal ref byte UnitParameters;

    internal ref byte UnitGradients;

    internal Span<nint> PlaneSlots;

    internal Span<nint> PlaneBase;

    /// <summary>Finishes the current run (pass 1 adds its partials where they belong) and moves to the next one.</summary>
    /// <returns>False when the unit has no more runs.</returns>
    public bool MoveNext() => Cursor.Owner.Advance(ref this);
}

/// <summary>Where a <see cref="PassRun"/> is in its unit; the runtime's own fields.</summary>
internal struct RunCursor
{
    public ReductionOptimizer Owner;
    public int Pass;
    public int Unit;
    public int Tensor;
    public int UnitStart;
    public int UnitEnd;
    public int Start;
    public int ParameterSize;
    public int GradientSize;
    public int StateSize;

    /// <summary>The arena position of the tensor's first element, when the parameters are rounded stochastically (each run reseeds there); else −1.</summary>
    public long RoundingOrigin;
    public ulong RoundingSeed;
    public long Step;
}

/// <summary>
/// Per-column partial results in double for the column reductions of generated rules: element i of a run adds into
/// column slot i (the run lies inside one row), in the same fixed order for any thread count.
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public static class ColumnAccumulator
{
    /// <summary>Adds eight lanes into columns[i … i + 7].</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Add(ref double columns, nuint i, Vector256<float> x)
    {
        (Vector256<double> lo, Vector256<double> hi) = Vector256.Widen(x);
        (Vector256.LoadUnsafe(ref columns, i) + lo).StoreUnsafe(ref columns, i);
        (Vector256.LoadUnsafe(ref columns, i + 4) + hi).StoreUnsafe(ref columns, i + 4);
    }

    /// <summary>Adds one element into columns[i].</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Add(ref double columns, nuint i, float x) => Unsafe.Add(ref columns, i) += x;

    /// <summary>Adds the squares of eight lanes into columns[i … i + 7].</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void AddSquares(ref double columns, nuint i, Vector256<float> x)
    {
        (Vector256<double> lo, Vector256<double> hi) = Vector256.Widen(x);
        (Vector256.LoadUnsafe(ref columns, i) + (lo * lo)).StoreUnsafe(ref columns, i);
        (Vector256.LoadUnsafe(ref columns, i + 4) + (hi * hi)).StoreUnsafe(ref columns, i + 4);
    }

    /// <summary>Adds the square of one element into columns[i].</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void AddSquares(ref double columns, nuint i, float x) => Unsafe.Add(ref columns, i) += (double)x * x;

    /// <summary>columns[i … i + 7] = max(columns, |x|) (NaN propagates, as <see cref="Math.Max(double, double)"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void AddMaxAbs(ref double columns, nuint i, Vector256<float> x)
    {
        for (int k = 0; k < 8; k++)
        {
            AddMaxAbs(ref columns, i + (nuint)k, x.GetElement(k));
        }
    }

    /// <summary>columns[i] = max(columns[i], |x|).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void AddMaxAbs(ref double columns, nuint i, float x)
    {
        ref double slot = ref Unsafe.Add(ref columns, i);
        slot = Math.Max(slot, Math.Abs((double)x));
    }
}

/// <summary>
/// One tensor's view for the segment phase of a rule with compact state: its finished reductions and its compact
/// states' extents. The runtime fills it; generated code reads it; user code does not use it.
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public ref struct SegmentArguments
{
    private readonly ParameterLayout _layout;
    private readonly int _tensor;
    private readonly Span<double> _sums;
    private readonly ReadOnlySpan<float> _columnValues;
    private readonly ReadOnlySpan<int> _starts;
    private readonly ReductionScope[] _scopes;
    private readonly ReductionKind[] _kinds;

    internal SegmentArguments(ParameterLayout layout, int tensor, ref byte state, ReadOnlySpan<nint> planes, Span<double> sums, ReadOnlySpan<float> columnValues, ReadOnlySpan<int> starts, ReductionScope[] scopes, ReductionKind[] kinds)
    {
        _layout = layout;
        _tensor = tensor;
        State = ref state;
        Planes = planes;
        _sums = sums;
        _columnValues = columnValues;
        _starts = starts;
        _scopes = scopes;
        _kinds = kinds;
    }

    /// <summary>The state's first byte.</summary>
    public ref byte State;

    /// <summary>Per state plane, the byte offset from <see cref="State"/> of the tensor's extent.</summary>
    public ReadOnlySpan<nint> Planes;

    /// <summary>The number of rows (columns, blocks of <paramref name="blockLength"/>) of the tensor.</summary>
    public readonly int CountOf(ReductionScopeKind kind, int blockLength) => ReductionOptimizer.SegmentCount(_layout, _tensor, new ReductionScope(kind, blockLength));

    /// <summary>The finished value of reduction <paramref name="reduction"/> for row (column, block) <paramref name="segment"/> of the tensor (0 for a tensor-scope one).</summary>
    public readonly float Value(int reduction, int segment) => _scopes[reduction].Kind == ReductionScopeKind.Column
        ? _columnValues[_starts[reduction] + segment]
        : (float)_sums[_starts[reduction] + segment];

    /// <summary>
    /// Adds segment <paramref name="segment"/>'s value <paramref name="value"/> of a tensor-scope reduction over a
    /// compact state (row, column, block or tensor of <paramref name="kind"/>) into <paramref name="total"/>, weighted
    /// by the segment's elements as if the state were read per element: n·x for a sum or mean, n·x² for a norm,
    /// max(total, |x|) for maxabs (NaN propagates). Call in segment order; then <see cref="SetTotal"/>.
    /// </summary>
    public readonly void Add(int reduction, ReductionScopeKind kind, int blockLength, int segment, ref double total, float value)
    {
        double x = value;
        double n = ReductionOptimizer.SegmentLength(_layout, _tensor, new ReductionScope(kind, blockLength), segment);
        total = _kinds[reduction] switch
        {
            ReductionKind.MaxAbs => Math.Max(total, Math.Abs(x)),
            ReductionKind.Norm => total + (n * (x * x)),
            _ => total + (n * x),
        };
    }

    /// <summary>Finishes a reduction over compact state from the total of <see cref="Add"/> (√ for a norm, ÷ the tensor's length for a mean): its value for pass 2.</summary>
    public readonly void SetTotal(int reduction, double total) =>
        _sums[_starts[reduction]] = Engine.ReductionFormulas.Finish(_kinds[reduction], total, _layout.LengthOf(_tensor));
}
