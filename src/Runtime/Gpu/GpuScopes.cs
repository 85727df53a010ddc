using System;
using System.ComponentModel;
using System.Runtime.InteropServices;
using ILGPU;
using ILGPU.Runtime;
using OptGen.Engine;

namespace OptGen.Gpu;

/// <summary>
/// Device code for rules with row, column, block, group or global reductions or compact state (scoped plans,
/// <see cref="GpuScopedUpdate{TKernel}"/>): the generated passes call <see cref="SegmentOf"/>; the runtime's kernels
/// add each reduction's operands in the CPU passes' order, so that the reductions, and with them the whole step,
/// are the CPU's bit for bit on ILGPU's CPU accelerator.
/// </summary>
/// <remarks>
/// <para>The CPU (<c>ReductionOptimizer</c>) cuts each tensor into work units of whole rows (blocks) and each unit
/// into runs (a stretch inside one row and one block); a run's partial of a tensor-, row- or block-scope reduction
/// is eight double lanes (lane l adds elements l, l + 8, … of the run's whole eights) and a scalar tail, folded as
/// ((l0 + l4) + (l1 + l5)) + ((l2 + l6) + (l3 + l7)) + tail (maxabs: the maxima); the runs' partials are added in
/// run order into their row (block) or their unit, the units' in unit order into the tensor's value, and group and
/// global values add the tensors' in layout order. A column reduction adds, per unit, a column's elements row after
/// row, and the units' column sums in unit order. The device computes each of those sums with one thread and the
/// same additions (<see cref="RunLanes"/>: one thread per lane of a run; <see cref="Targets"/>, <see cref="Columns"/>,
/// <see cref="CombineUnits"/>, <see cref="Finish"/>).</para>
/// <para>The operands are computed by the generated pass 1 (per element, fully parallel) and stored as float32 (the
/// values the CPU widens to double), 4 bytes per element per reduction.</para>
/// </remarks>
[EditorBrowsable(EditorBrowsableState.Never)]
public static class GpuScopes
{
    /// <summary>The int table's header: [0] the ints per tensor, [1] the operand planes' stride; tensor j's ints start at <see cref="Header"/> + j·[0].</summary>
    public const int Header = 2;

    /// <summary>Per tensor, before the state-plane offsets and the value starts: rows, columns, group.</summary>
    public const int TensorFields = 3;

    /// <summary>
    /// The segment of a reduction (or compact state) of scope <paramref name="scope"/> that element
    /// <paramref name="element"/> of a tensor of <paramref name="rows"/> × <paramref name="columns"/> matrices belongs
    /// to: its row, its column (over all matrices), its block, or 0 (tensor, group, global).
    /// </summary>
    public static int SegmentOf(int scope, int blockLength, int rows, int columns, int element) => scope switch
    {
        (int)ReductionScopeKind.Row => element / columns,
        (int)ReductionScopeKind.Column => (element / (rows * columns) * columns) + (element % columns),
        (int)ReductionScopeKind.Block => element / blockLength,
        _ => 0,
    };

    /// <summary>Adds one operand as the CPU's accumulators do: x, x² (norm) or max |x| (maxabs), in double.</summary>
    private static double Add(double sum, float x, int kind) =>
        kind == (int)ReductionKind.MaxAbs ? Math.Max(sum, Math.Abs((double)x)) : kind == (int)ReductionKind.Norm ? sum + ((double)x * x) : sum + x;

    /// <summary>Combines two partial results: their sum, or their maximum (maxabs).</summary>
    private static double Combine(double a, double b, int kind) => kind == (int)ReductionKind.MaxAbs ? Math.Max(a, b) : a + b;

    /// <summary>
    /// Kernel, one thread per (run, reduction, lane): lane l &lt; 8 of a run's eight double lanes adds elements l, l + 8, …
    /// of the run's whole eights from 0, as <c>ReductionAccumulator</c>'s vector lanes; lane 8 is the scalar tail, the
    /// rest in order. <paramref name="reductions"/> lists the reductions that have runs (not the column ones).
    /// </summary>
    internal static void RunLanes(Index1D index, ArrayView<GpuScopeRun> runs, ArrayView<int> reductions, ArrayView<float> terms, ArrayView<int> kinds, ArrayView<double> lanes, long termStride)
    {
        int perRun = reductions.IntLength * RunLaneCount;
        GpuScopeRun run = runs[index / perRun];
        int k = reductions[index % perRun / RunLaneCount], lane = index % RunLaneCount, kind = kinds[k];
        long start = (k * termStride) + run.ArenaStart;
        int whole = run.Length & ~7;
        double sum = 0;
        for (int i = lane == 8 ? whole : lane; i < (lane == 8 ? run.Length : whole); i += lane == 8 ? 1 : 8)
        {
            sum = Add(sum, terms[start + i], kind);
        }

        lanes[index] = sum;
    }

    /// <summary>The lanes (and the tail) of a run per reduction: 9 values.</summary>
    internal const int RunLaneCount = 9;

    /// <summary>A run's partial from its lanes at <paramref name="at"/>, folded as <c>ReductionAccumulator</c> folds them: ((l0 + l4) + (l1 + l5)) + ((l2 + l6) + (l3 + l7)) + tail.</summary>
    private static double Fold(ArrayView<double> lanes, long at, int kind)
    {
        double s0 = Combine(lanes[at], lanes[at + 4], kind);
        double s1 = Combine(lanes[at + 1], lanes[at + 5], kind);
        double s2 = Combine(lanes[at + 2], lanes[at + 6], kind);
        double s3 = Combine(lanes[at + 3], lanes[at + 7], kind);
        return Combine(Combine(Combine(s0, s1, kind), Combine(s2, s3, kind), kind), lanes[at + 8], kind);
    }

    /// <summary>
    /// Kernel, one thread per target (a row's or block's value, or a unit's partial of a tensor-scope reduction): its
    /// runs' partials (<see cref="Fold"/> of <see cref="RunLanes"/>) added (maxed) in run order from 0, as the CPU's
    /// <c>Advance</c> adds them.
    /// </summary>
    internal static void Targets(Index1D index, ArrayView<ScopeTarget> targets, ArrayView<double> lanes, ArrayView<int> kinds, ArrayView<double> sums, int laneReductions)
    {
        ScopeTarget target = targets[index];
        int kind = kinds[target.Reduction];
        double sum = 0;
        for (int r = target.FirstRun; r < target.FirstRun + target.RunCount; r++)
        {
            sum = Combine(sum, Fold(lanes, (((long)r * laneReductions) + target.Lane) * RunLaneCount, kind), kind);
        }

        sums[target.Slot] = sum;
    }

    /// <summary>
    /// Kernel, one thread per column of a column reduction: per unit (in order) the column's elements of the unit's
    /// rows added from 0 in row order, then the units' sums added from 0 in unit order, as the CPU's column partials.
    /// </summary>
    internal static void Columns(Index1D index, ArrayView<ScopeColumn> columns, ArrayView<ScopeUnit> units, ArrayView<float> terms, ArrayView<int> kinds, ArrayView<double> sums, long termStride)
    {
        ScopeColumn c = columns[index];
        int kind = kinds[c.Reduction];
        int matrix = c.Column / c.Columns, column = c.Column % c.Columns;
        long start = (c.Reduction * termStride) + c.ArenaStart;
        double sum = 0;
        for (int u = c.FirstUnit; u < c.FirstUnit + c.UnitCount; u++)
        {
            ScopeUnit unit = units[u];
            int first = Math.Max(unit.Start / c.Columns, matrix * c.Rows);
            int end = Math.Min((unit.Start + unit.Length) / c.Columns, (matrix + 1) * c.Rows);
            double partial = 0;
            for (int row = first; row < end; row++)
            {
                partial = Add(partial, terms[start + ((long)row * c.Columns) + column], kind);
            }

            sum = Combine(sum, partial, kind);
        }

        sums[c.Slot] = sum;
    }

    /// <summary>Kernel, one thread per (tensor, tensor-, group- or global-scope reduction): the tensor's unit partials added from 0 in unit order.</summary>
    internal static void CombineUnits(Index1D index, ArrayView<ScopeTarget> tensors, ArrayView<int> kinds, ArrayView<double> sums, int partialStart, int width)
    {
        ScopeTarget t = tensors[index];
        int kind = kinds[t.Reduction];
        double sum = 0;
        for (int u = t.FirstRun; u < t.FirstRun + t.RunCount; u++)
        {
            sum = Combine(sum, sums[partialStart + ((long)u * width) + t.Reduction], kind);
        }

        sums[t.Slot] = sum;
    }

    /// <summary>
    /// Kernel, one thread per value: a group or global value adds its tensors' values from 0 in layout order; every
    /// value is then finished as the CPU finishes it (<see cref="ReductionFormulas.Finish"/>) and stored as float32, the
    /// value the passes read.
    /// </summary>
    internal static void Finish(Index1D index, ArrayView<ScopeSlot> slots, ArrayView<int> kinds, ArrayView<int> starts, ArrayView<double> sums, ArrayView<float> values, int width)
    {
        ScopeSlot slot = slots[index];
        int kind = kinds[slot.Reduction];
        double value = sums[index];
        if (slot.FirstTensor >= 0)
        {
            value = 0;
            for (int j = slot.FirstTensor; j < slot.EndTensor; j++)
            {
                value = Combine(value, sums[starts[(j * width) + slot.Reduction]], kind);
            }
        }

        values[index] = (float)ReductionFormulas.Finish((ReductionKind)kind, value, slot.Length);
    }

    /// <summary>
    /// Kernel, one thread per (tensor, tensor reduction of a compact state): the operands the generated segment kernel
    /// stored for the tensor's segments (the value per row, column, block or tensor, computed from the stored compact
    /// states), added from 0 in segment order in double, weighted by each segment's elements as the CPU's
    /// <c>SegmentArguments.Add</c> weights them (n·x; n·x² for a norm; max |x| for maxabs), then finished over the
    /// tensor's length as <c>SegmentArguments.SetTotal</c> finishes it and stored as float32, the value pass 2 reads.
    /// </summary>
    internal static void OverSegments(Index1D index, ArrayView<OverSegmentsTarget> targets, ArrayView<float> terms, ArrayView<double> weights, ArrayView<int> kinds, ArrayView<float> values)
    {
        OverSegmentsTarget t = targets[index];
        int kind = kinds[t.Reduction];
        double total = 0;
        for (int s = 0; s < t.Count; s++)
        {
            double x = terms[t.TermStart + s];
            double n = weights[t.WeightStart + s];
            total = kind == (int)ReductionKind.MaxAbs ? Math.Max(total, Math.Abs(x)) : kind == (int)ReductionKind.Norm ? total + (n * (x * x)) : total + (n * x);
        }

        values[t.Slot] = (float)ReductionFormulas.Finish((ReductionKind)kind, total, t.Length);
    }
}

/// <summary>A tensor reduction of a compact state for one tensor: its segments' operands in plane order from <c>TermStart</c>, their element counts from <c>WeightStart</c>, its value's slot, the tensor's length.</summary>
[StructLayout(LayoutKind.Sequential)]
internal readonly record struct OverSegmentsTarget(long TermStart, long Length, int WeightStart, int Count, int Reduction, int Slot);

/// <summary>One run of a scoped pass on the device: its first element in the arena and its length.</summary>
[StructLayout(LayoutKind.Sequential)]
internal readonly record struct GpuScopeRun(long ArenaStart, int Length);

/// <summary>A sum of runs (or of unit partials) into one slot of the sums; <c>Lane</c>: the reduction's place among those with runs.</summary>
[StructLayout(LayoutKind.Sequential)]
internal readonly record struct ScopeTarget(int Reduction, int Lane, int FirstRun, int RunCount, int Slot);

/// <summary>One column of a column reduction: its tensor's arena start and shape, its units, its slot.</summary>
[StructLayout(LayoutKind.Sequential)]
internal readonly record struct ScopeColumn(long ArenaStart, int Reduction, int Column, int Rows, int Columns, int FirstUnit, int UnitCount, int Slot);

/// <summary>A work unit: elements [Start, Start + Length) of its tensor (whole rows).</summary>
[StructLayout(LayoutKind.Sequential)]
internal readonly record struct ScopeUnit(int Start, int Length);

/// <summary>One value: the elements it combines (a mean divides by them), its reduction, and for group and global values their tensors (else −1).</summary>
[StructLayout(LayoutKind.Sequential)]
internal readonly record struct ScopeSlot(long Length, int Reduction, int FirstTensor, int EndTensor);
