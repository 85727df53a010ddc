using System;
using System.Collections.Generic;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using ILGPU;
using ILGPU.Runtime;
using OptGen.Engine;

namespace OptGen.Gpu;

/// <summary>
/// <see cref="Adafactor"/> on the device, with the host's compact state (R per matrix row and C per matrix column, v
/// per element of a vector). Segments are a matrix's rows and a vector's 2048-element chunks.
/// </summary>
/// <remarks>
/// <para>(1) Per segment (explicitly grouped, the fixed 256-lane tree of <see cref="GpuReductions"/>): Σp², and a
/// row's Σ(g·s)², or a vector chunk's v ← lerp(v, (g·s)², t^c) and ΣU². (2) One thread per matrix column: the column's
/// Σ(g·s)² over the rows in order, C ← lerp(C, mean, t^c), κ = 1/√C. (3) One thread per matrix: R ← lerp(R, mean,
/// t^c) for each row, the mean of R (added in order, as the CPU), ρ = 1/√(R/max(mean R, ε₁)). (4) Per matrix row:
/// ΣU² with U = g·s·min(ρκ, 1/ε₁). (5) One thread per tensor: the segments in order, α = −max(ε₂, RMS(p))·min(η,
/// 1/√t)/max(1, RMS(U)/d). (6) Per element: p ← p(1 − ηλ) + α·U. The element formulas are the CPU passes'.</para>
/// </remarks>
internal sealed class GpuAdafactor : GpuPassUpdate<GpuAdafactor.Scalars>
{
    private const int PartialWidth = 3;
    private static readonly ConditionalWeakTable<Accelerator, Kernels> Loaded = new();
    private readonly Kernels _kernels;
    private readonly Adafactor _optimizer;
    private int _segmentCount;
    private int _columnCount;
    private int _matrixCount;
    private MemoryBuffer1D<Segment, Stride1D.Dense>? _segments;
    private MemoryBuffer1D<TensorInfo, Stride1D.Dense>? _tensorInfo;
    private MemoryBuffer1D<Column, Stride1D.Dense>? _columns;
    private MemoryBuffer1D<Matrix, Stride1D.Dense>? _matrices;
    private MemoryBuffer1D<double, Stride1D.Dense>? _segmentPartials;
    private MemoryBuffer1D<float, Stride1D.Dense>? _factors; // α per tensor, then ρ per matrix row, then κ per matrix column

    public GpuAdafactor(Adafactor optimizer, Accelerator accelerator, int groups)
        : base(accelerator, groups, static (h, _, step, _) => Scalars.Of(h, step), width: 0)
    {
        _optimizer = optimizer;
        _kernels = Loaded.GetValue(accelerator, static a => new Kernels(
            a.LoadKernel<ArrayView<Segment>, ArrayView<TensorInfo>, GpuGroups<Scalars>, ArrayView<Scalars>, ArrayView<float>, ArrayView<float>, ArrayView<ushort>, ArrayView<float>, ArrayView<ushort>, ArrayView<float>, ArrayView<ushort>, ArrayView<double>, GpuLaunch>(Sums),
            a.LoadAutoGroupedKernel<Index1D, ArrayView<Column>, ArrayView<TensorInfo>, GpuGroups<Scalars>, ArrayView<Scalars>, ArrayView<float>, ArrayView<float>, ArrayView<ushort>, ArrayView<float>, ArrayView<ushort>, ArrayView<float>, GpuLaunch>(Columns),
            a.LoadAutoGroupedKernel<Index1D, ArrayView<Matrix>, ArrayView<TensorInfo>, GpuGroups<Scalars>, ArrayView<Scalars>, ArrayView<double>, ArrayView<float>, ArrayView<ushort>, ArrayView<float>, GpuLaunch>(Rows),
            a.LoadKernel<ArrayView<Segment>, ArrayView<TensorInfo>, GpuGroups<Scalars>, ArrayView<Scalars>, ArrayView<float>, ArrayView<float>, ArrayView<ushort>, ArrayView<float>, ArrayView<double>, GpuLaunch>(UpdateNorm),
            a.LoadAutoGroupedKernel<Index1D, ArrayView<TensorInfo>, GpuGroups<Scalars>, ArrayView<Scalars>, ArrayView<double>, ArrayView<float>>(Alpha),
            a.LoadAutoGroupedKernel<Index1D, ArrayView<GpuChunk>, ArrayView<TensorInfo>, GpuGroups<Scalars>, ArrayView<Scalars>, ArrayView<float>, ArrayView<float>, ArrayView<ushort>, ArrayView<float>, ArrayView<ushort>, ArrayView<float>, ArrayView<ushort>, ArrayView<float>, GpuLaunch>(Update)));
    }

    private protected override void BindRule(ParameterLayout layout)
    {
        StateStorage storage = _optimizer.StateStorage;
        var info = new TensorInfo[Math.Max(1, layout.TensorCount)];
        var segments = new List<Segment>();
        var columns = new List<Column>();
        var matrices = new List<Matrix>();
        int totalRows = 0;
        for (int j = 0; j < layout.TensorCount; j++)
        {
            (int count, int rows, _) = layout.MatrixShapeOf(j);
            totalRows += layout.RankOf(j) >= 2 && layout.LengthOf(j) > 0 ? count * rows : 0;
        }

        int rowFactors = layout.TensorCount, columnFactors = layout.TensorCount + totalRows;
        for (int j = 0; j < layout.TensorCount; j++)
        {
            (int count, int rows, int width) = layout.MatrixShapeOf(j);
            bool matrix = layout.RankOf(j) >= 2;
            int length = layout.LengthOf(j);
            long arena = layout.ArenaOffsetOf(j);
            info[j] = new TensorInfo(matrix ? 1 : 0, count, rows, width, length, layout.GroupOf(j), segments.Count, arena, storage.OffsetOf(0, j, layout), storage.OffsetOf(1, j, layout), rowFactors, columnFactors);
            if (matrix && length > 0)
            {
                for (int r = 0; r < count * rows; r++)
                {
                    segments.Add(new Segment(arena + ((long)r * width), width, j, r));
                }

                for (int a = 0; a < count; a++)
                {
                    matrices.Add(new Matrix(j, a));
                    for (int k = 0; k < width; k++)
                    {
                        columns.Add(new Column(j, a, k));
                    }
                }

                rowFactors += count * rows;
                columnFactors += count * width;
            }
            else
            {
                for (int start = 0; start < length; start += GpuChunk.Capacity)
                {
                    segments.Add(new Segment(arena + start, Math.Min(GpuChunk.Capacity, length - start), j, start));
                }
            }

            info[j] = info[j] with { SegmentCount = segments.Count - info[j].FirstSegment };
        }

        _segmentCount = segments.Count;
        _columnCount = columns.Count;
        _matrixCount = matrices.Count;
        _segments = Accelerator.Allocate1D(segments.Count == 0 ? new Segment[1] : segments.ToArray());
        _tensorInfo = Accelerator.Allocate1D(info);
        _columns = Accelerator.Allocate1D(columns.Count == 0 ? new Column[1] : columns.ToArray());
        _matrices = Accelerator.Allocate1D(matrices.Count == 0 ? new Matrix[1] : matrices.ToArray());
        _segmentPartials = Accelerator.Allocate1D<double>(Math.Max(1L, (long)segments.Count * PartialWidth));
        _factors = Accelerator.Allocate1D<float>(Math.Max(1, columnFactors));
    }

    private protected override void DisposeRule()
    {
        _segments?.Dispose();
        _tensorInfo?.Dispose();
        _columns?.Dispose();
        _matrices?.Dispose();
        _segmentPartials?.Dispose();
        _factors?.Dispose();
    }

    private protected override void RunPasses(AcceleratorStream stream, int threads, in GpuUpdateViews views, GpuLaunch launch, ArrayView<Scalars> table)
    {
        if (_segmentCount == 0)
        {
            return;
        }

        ArrayView<TensorInfo> info = _tensorInfo!.View.BaseView;
        ArrayView<double> partials = _segmentPartials!.View.BaseView;
        ArrayView<float> factors = _factors!.View.BaseView;
        _kernels.Sums(stream, ReduceConfig, _segments!.View.BaseView, info, Groups, table, views.Factor, views.Parameters32, views.Parameters16, views.Gradients32, views.Gradients16, views.State32, views.State16, partials, launch);
        if (_columnCount > 0)
        {
            _kernels.Columns(stream, _columnCount, _columns!.View.BaseView, info, Groups, table, views.Factor, views.Gradients32, views.Gradients16, views.State32, views.State16, factors, launch);
            _kernels.Rows(stream, _matrixCount, _matrices!.View.BaseView, info, Groups, table, partials, views.State32, views.State16, factors, launch);
            _kernels.UpdateNorm(stream, ReduceConfig, _segments.View.BaseView, info, Groups, table, views.Factor, views.Gradients32, views.Gradients16, factors, partials, launch);
        }

        _kernels.Alpha(stream, TensorCount, info, Groups, table, partials, factors);
        _kernels.Update(stream, threads, views.Chunks, info, Groups, table, views.Factor, views.Parameters32, views.Parameters16, views.Gradients32, views.Gradients16, views.State32, views.State16, factors, launch);
    }

    private static Scalars Of(GpuGroups<Scalars> groups, ArrayView<Scalars> table, int group) =>
        groups.Count <= GpuGroups<Scalars>.MaxByValue ? groups.Get(group) : table[group];

    /// <summary>(1) Per segment: Σp², and a row's Σ(g·s)² or a vector chunk's v update and ΣU².</summary>
    internal static void Sums(ArrayView<Segment> segments, ArrayView<TensorInfo> tensors, GpuGroups<Scalars> groups, ArrayView<Scalars> table, ArrayView<float> factor, ArrayView<float> p32, ArrayView<ushort> p16, ArrayView<float> g32, ArrayView<ushort> g16, ArrayView<float> s32, ArrayView<ushort> s16, ArrayView<double> partials, GpuLaunch launch)
    {
        ArrayView<double> shared = SharedMemory.Allocate<double>(2 * GpuReductions.Lanes);
        float gradientFactor = GpuReductions.GradientFactor(factor, launch);
        for (int c = Grid.IdxX; c < segments.IntLength; c += Grid.DimX)
        {
            Segment segment = segments[c];
            TensorInfo tensor = tensors[segment.Tensor];
            Scalars k = Of(groups, table, tensor.Group);
            for (int l = Group.IdxX; l < GpuReductions.Lanes; l += Group.DimX)
            {
                double sp = 0, sx = 0;
                for (int i = l; i < segment.Length; i += GpuReductions.Lanes)
                {
                    double p = GpuElements.Load(launch.ParameterCodec, p32, p16, segment.ArenaStart + i);
                    sp += p * p;
                    float g = GpuElements.Load(launch.GradientCodec, g32, g16, segment.ArenaStart + i) * gradientFactor * k.Sign;
                    if (tensor.IsMatrix != 0)
                    {
                        sx += (double)g * g;
                    }
                    else
                    {
                        long v = tensor.RowState + segment.Index + i;
                        GpuElements.Store(launch.StateCodec, s32, s16, v, TorchLerp.Of(GpuElements.Load(launch.StateCodec, s32, s16, v), g * g, k.W), launch, segment.Tensor, segment.Index + i);
                        double u = g / MathF.Sqrt(MathF.Max(GpuElements.Load(launch.StateCodec, s32, s16, v), k.Eps1Squared));
                        sx += u * u;
                    }
                }

                shared[l] = sp;
                shared[GpuReductions.Lanes + l] = sx;
            }

            GpuReductions.Tree(shared, 2, 0);
            if (Group.IdxX == 0)
            {
                partials[(long)c * PartialWidth] = shared[0];
                partials[((long)c * PartialWidth) + 1] = shared[GpuReductions.Lanes];
                partials[((long)c * PartialWidth) + 2] = 0;
            }

            Group.Barrier();
        }
    }

    /// <summary>(2) One thread per matrix column: Σ(g·s)² over the rows in order, C ← lerp(C, Σ/rows, t^c), κ = 1/√C.</summary>
    internal static void Columns(Index1D index, ArrayView<Column> columns, ArrayView<TensorInfo> tensors, GpuGroups<Scalars> groups, ArrayView<Scalars> table, ArrayView<float> factor, ArrayView<float> g32, ArrayView<ushort> g16, ArrayView<float> s32, ArrayView<ushort> s16, ArrayView<float> factors, GpuLaunch launch)
    {
        float gradientFactor = GpuReductions.GradientFactor(factor, launch);
        Column column = columns[index];
        TensorInfo tensor = tensors[column.Tensor];
        Scalars k = Of(groups, table, tensor.Group);
        long first = tensor.ArenaStart + ((long)column.Matrix * tensor.Rows * tensor.Columns) + column.Index;
        double sum = 0;
        for (int r = 0; r < tensor.Rows; r++)
        {
            float g = GpuElements.Load(launch.GradientCodec, g32, g16, first + ((long)r * tensor.Columns)) * gradientFactor * k.Sign;
            sum += (double)g * g;
        }

        int at = (column.Matrix * tensor.Columns) + column.Index;
        long c = launch.StateStride + tensor.ColumnState + at;
        GpuElements.Store(launch.StateCodec, s32, s16, c, TorchLerp.Of(GpuElements.Load(launch.StateCodec, s32, s16, c), (float)(sum / tensor.Rows), k.W), launch, column.Tensor, at);
        factors[tensor.ColumnFactorStart + at] = 1 / MathF.Sqrt(GpuElements.Load(launch.StateCodec, s32, s16, c));
    }

    /// <summary>(3) One thread per matrix: R ← lerp(R, row Σ/columns, t^c), then ρ = 1/√(R/max(mean R, ε₁)) with the mean added in order.</summary>
    internal static void Rows(Index1D index, ArrayView<Matrix> matrices, ArrayView<TensorInfo> tensors, GpuGroups<Scalars> groups, ArrayView<Scalars> table, ArrayView<double> partials, ArrayView<float> s32, ArrayView<ushort> s16, ArrayView<float> factors, GpuLaunch launch)
    {
        Matrix matrix = matrices[index];
        TensorInfo tensor = tensors[matrix.Tensor];
        Scalars k = Of(groups, table, tensor.Group);
        int firstRow = matrix.Index * tensor.Rows;
        double sum = 0;
        for (int i = firstRow; i < firstRow + tensor.Rows; i++)
        {
            long r = tensor.RowState + i;
            double rowSum = partials[((long)(tensor.FirstSegment + i) * PartialWidth) + 1];
            GpuElements.Store(launch.StateCodec, s32, s16, r, TorchLerp.Of(GpuElements.Load(launch.StateCodec, s32, s16, r), (float)(rowSum / tensor.Columns), k.W), launch, matrix.Tensor, i);
            sum += GpuElements.Load(launch.StateCodec, s32, s16, r);
        }

        float rowMean = MathF.Max((float)(sum / tensor.Rows), k.Eps1);
        for (int i = firstRow; i < firstRow + tensor.Rows; i++)
        {
            factors[tensor.RowFactorStart + i] = 1 / MathF.Sqrt(GpuElements.Load(launch.StateCodec, s32, s16, tensor.RowState + i) / rowMean);
        }
    }

    /// <summary>(4) Per matrix row (explicitly grouped, the fixed tree): ΣU² with U = g·s·min(ρκ, 1/ε₁).</summary>
    internal static void UpdateNorm(ArrayView<Segment> segments, ArrayView<TensorInfo> tensors, GpuGroups<Scalars> groups, ArrayView<Scalars> table, ArrayView<float> factor, ArrayView<float> g32, ArrayView<ushort> g16, ArrayView<float> factors, ArrayView<double> partials, GpuLaunch launch)
    {
        ArrayView<double> shared = SharedMemory.Allocate<double>(GpuReductions.Lanes);
        float gradientFactor = GpuReductions.GradientFactor(factor, launch);
        for (int c = Grid.IdxX; c < segments.IntLength; c += Grid.DimX)
        {
            Segment segment = segments[c];
            TensorInfo tensor = tensors[segment.Tensor];
            if (tensor.IsMatrix == 0)
            {
                continue; // uniform in the group: every thread skips the same segment
            }

            Scalars k = Of(groups, table, tensor.Group);
            float rho = factors[tensor.RowFactorStart + segment.Index];
            int kappa = tensor.ColumnFactorStart + ((segment.Index / tensor.Rows) * tensor.Columns);
            for (int l = Group.IdxX; l < GpuReductions.Lanes; l += Group.DimX)
            {
                double su = 0;
                for (int i = l; i < segment.Length; i += GpuReductions.Lanes)
                {
                    float u = GpuElements.Load(launch.GradientCodec, g32, g16, segment.ArenaStart + i) * gradientFactor * k.Sign * MathF.Min(rho * factors[kappa + i], k.Cap);
                    su += (double)u * u;
                }

                shared[l] = su;
            }

            GpuReductions.Tree(shared, 1, 0);
            if (Group.IdxX == 0)
            {
                partials[((long)c * PartialWidth) + 2] = shared[0];
            }

            Group.Barrier();
        }
    }

    /// <summary>(5) One thread per tensor: the segments' Σp² and ΣU² in order, α = −max(ε₂, RMS(p))·ρ/max(1, RMS(U)/d) as float32.</summary>
    internal static void Alpha(Index1D j, ArrayView<TensorInfo> tensors, GpuGroups<Scalars> groups, ArrayView<Scalars> table, ArrayView<double> partials, ArrayView<float> factors)
    {
        TensorInfo tensor = tensors[j];
        Scalars k = Of(groups, table, tensor.Group);
        double sp = 0, su = 0;
        for (int c = tensor.FirstSegment; c < tensor.FirstSegment + tensor.SegmentCount; c++)
        {
            sp += partials[(long)c * PartialWidth];
            su += partials[((long)c * PartialWidth) + (tensor.IsMatrix != 0 ? 2 : 1)];
        }

        factors[j] = (float)ReductionFormulas.AdafactorAlpha(sp, su, tensor.Length, k.LearningRate, k.Epsilon2, k.ClipThreshold, k.Step);
    }

    /// <summary>(6) Per element (grid-stride over the chunks): p ← p(1 − ηλ) + α·U.</summary>
    internal static void Update(Index1D index, ArrayView<GpuChunk> chunks, ArrayView<TensorInfo> tensors, GpuGroups<Scalars> groups, ArrayView<Scalars> table, ArrayView<float> factor, ArrayView<float> p32, ArrayView<ushort> p16, ArrayView<float> g32, ArrayView<ushort> g16, ArrayView<float> s32, ArrayView<ushort> s16, ArrayView<float> factors, GpuLaunch launch)
    {
        float gradientFactor = GpuReductions.GradientFactor(factor, launch);
        for (long x = index; x < GpuReductions.End(chunks); x += launch.Stride)
        {
            if (!GpuReductions.TryElement(chunks, x, out GpuChunk chunk, out int local))
            {
                continue;
            }

            TensorInfo tensor = tensors[chunk.Tensor];
            Scalars k = Of(groups, table, chunk.Group);
            int t = chunk.TensorStart + local;
            long e = chunk.ArenaStart + local;
            float g = GpuElements.Load(launch.GradientCodec, g32, g16, e) * gradientFactor * k.Sign;
            float update;
            if (tensor.IsMatrix != 0)
            {
                int row = t / tensor.Columns;
                int kappa = ((row / tensor.Rows) * tensor.Columns) + (t - (row * tensor.Columns));
                update = g * MathF.Min(factors[tensor.RowFactorStart + row] * factors[tensor.ColumnFactorStart + kappa], k.Cap);
            }
            else
            {
                update = g / MathF.Sqrt(MathF.Max(GpuElements.Load(launch.StateCodec, s32, s16, tensor.RowState + t), k.Eps1Squared));
            }

            float p = GpuElements.Load(launch.ParameterCodec, p32, p16, e);
            GpuElements.Store(launch.ParameterCodec, p32, p16, e, (p * k.Decay) + (factors[chunk.Tensor] * update), launch, chunk.Tensor, t);
        }
    }

    /// <summary>A matrix row (Index: its row in the tensor's stack) or a vector chunk (Index: its first element).</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal readonly record struct Segment(long ArenaStart, int Length, int Tensor, int Index);

    /// <summary>Column <c>Index</c> of matrix <c>Matrix</c> of a tensor's stack.</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal readonly record struct Column(int Tensor, int Matrix, int Index);

    /// <summary>Matrix <c>Index</c> of a tensor's stack.</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal readonly record struct Matrix(int Tensor, int Index);

    /// <summary>Per tensor: its shape, segments, arena start, state offsets (R or v in plane 0, C in plane 1) and where its ρ and κ start in the factor buffer.</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal readonly record struct TensorInfo(int IsMatrix, int Matrices, int Rows, int Columns, int Length, int Group, int FirstSegment, long ArenaStart, int RowState, int ColumnState, int RowFactorStart, int ColumnFactorStart)
    {
        public int SegmentCount { get; init; }
    }

    /// <summary>One group's per-step values, as the CPU passes compute them.</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct Scalars
    {
        public double LearningRate, Epsilon2, ClipThreshold;
        public long Step;
        public float Sign, Eps1, Eps1Squared, Cap, W, Decay;

        public static Scalars Of(ReadOnlySpan<double> h, long step)
        {
            float eps1Squared = (float)(h[2] * h[2]);
            return new Scalars
            {
                LearningRate = h[0],
                Epsilon2 = h[3],
                ClipThreshold = h[4],
                Step = step,
                Sign = h[6] != 0 ? -1 : 1,
                Eps1 = (float)h[2],
                Eps1Squared = eps1Squared,
                Cap = 1 / MathF.Sqrt(eps1Squared),
                W = (float)Math.Pow(step, h[1]),
                Decay = (float)(1 - (h[0] * h[5])),
            };
        }
    }

    private sealed record Kernels(
        Action<AcceleratorStream, KernelConfig, ArrayView<Segment>, ArrayView<TensorInfo>, GpuGroups<Scalars>, ArrayView<Scalars>, ArrayView<float>, ArrayView<float>, ArrayView<ushort>, ArrayView<float>, ArrayView<ushort>, ArrayView<float>, ArrayView<ushort>, ArrayView<double>, GpuLaunch> Sums,
        Action<AcceleratorStream, Index1D, ArrayView<Column>, ArrayView<TensorInfo>, GpuGroups<Scalars>, ArrayView<Scalars>, ArrayView<float>, ArrayView<float>, ArrayView<ushort>, ArrayView<float>, ArrayView<ushort>, ArrayView<float>, GpuLaunch> Columns,
        Action<AcceleratorStream, Index1D, ArrayView<Matrix>, ArrayView<TensorInfo>, GpuGroups<Scalars>, ArrayView<Scalars>, ArrayView<double>, ArrayView<float>, ArrayView<ushort>, ArrayView<float>, GpuLaunch> Rows,
        Action<AcceleratorStream, KernelConfig, ArrayView<Segment>, ArrayView<TensorInfo>, GpuGroups<Scalars>, ArrayView<Scalars>, ArrayView<float>, ArrayView<float>, ArrayView<ushort>, ArrayView<float>, ArrayView<double>, GpuLaunch> UpdateNorm,
        Action<AcceleratorStream, Index1D, ArrayView<TensorInfo>, GpuGroups<Scalars>, ArrayView<Scalars>, ArrayView<double>, ArrayView<float>> Alpha,
        Action<AcceleratorStream, Index1D, ArrayView<GpuChunk>, ArrayView<TensorInfo>, GpuGroups<Scalars>, ArrayView<Scalars>, ArrayView<float>, ArrayView<float>, ArrayView<ushort>, ArrayView<float>, ArrayView<ushort>, ArrayView<float>, ArrayView<ushort>, ArrayView<float>, GpuLaunch> Update);
}
