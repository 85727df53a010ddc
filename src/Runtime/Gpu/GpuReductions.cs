using System;
using System.ComponentModel;
using System.Runtime.InteropServices;
using ILGPU;
using ILGPU.Runtime;
using OptGen.Engine;

namespace OptGen.Gpu;

/// <summary>One tensor of the device's tensor table for reductions: its run of chunks (chunks of a tensor are consecutive).</summary>
[EditorBrowsable(EditorBrowsableState.Never)]
[StructLayout(LayoutKind.Sequential)]
public readonly struct GpuTensorSpan
{
    /// <summary>Creates an entry.</summary>
    public GpuTensorSpan(int firstChunk, int chunkCount, int length, int group)
    {
        FirstChunk = firstChunk;
        ChunkCount = chunkCount;
        Length = length;
        Group = group;
    }

    /// <summary>The tensor's first chunk in the <see cref="GpuChunk"/> table.</summary>
    public readonly int FirstChunk;

    /// <summary>The number of its chunks (0 for an empty tensor).</summary>
    public readonly int ChunkCount;

    /// <summary>The number of elements.</summary>
    public readonly int Length;

    /// <summary>The tensor's parameter group.</summary>
    public readonly int Group;
}

/// <summary>
/// Deterministic reductions on the device (generated pass kernels call <see cref="Tree"/> and <see cref="GradientFactor"/>). The unit of a partial result is a <see cref="GpuChunk"/> (2048 elements
/// of one tensor, cut from the tensor's start), so partials depend only on the layout, never on the launch.
/// </summary>
/// <remarks>
/// <para>Within a chunk, <see cref="Lanes"/> = 256 virtual lanes: lane l adds, in double and in order, the values of
/// elements l, l + 256, …, l + 7·256 (those below the chunk's length); the 256 lane sums are then added by a fixed
/// pairwise tree in shared memory (level s = 128, 64, …, 1: lane l &lt; s adds lane l + s). The threads of a group
/// share the virtual lanes (thread t takes lanes t, t + G, …), so the tree and therefore every bit of a chunk's
/// partial is the same for every group size G dividing 256 and every grid size. A second kernel adds a tensor's chunk
/// partials in chunk order (<see cref="Combine"/>); maxabs reductions take the maximum instead of the sum.</para>
/// <para>The CPU path (<c>MultiPassOptimizer</c>) cuts tensors into units of 16 384 elements with eight-lane double
/// accumulators: the same values added in another order, so a reduction agrees with the CPU's to double rounding
/// (relative 1e-15 for sums of squares), and the float32 values computed from it almost always bit for bit
/// (docs/gpu.md, "Rules with reductions").</para>
/// </remarks>
[EditorBrowsable(EditorBrowsableState.Never)]
public static class GpuReductions
{
    /// <summary>Virtual lanes per chunk, a power of two.</summary>
    public const int Lanes = 256;

    /// <summary>The largest reduction width (values reduced per element) a pass kernel may have.</summary>
    internal const int MaxWidth = 8;

    /// <summary>The group size used unless a test sets one: a power of two, at most 256 and the accelerator's limit.</summary>
    internal static int GroupSizeFor(Accelerator accelerator)
    {
        int size = 1;
        while (size * 2 <= Math.Min(Lanes, accelerator.MaxNumThreadsPerGroup))
        {
            size *= 2;
        }

        return size;
    }

    /// <summary>The device's per-tensor table: each tensor's run of chunks of <paramref name="chunks"/>.</summary>
    internal static GpuTensorSpan[] TensorSpans(ParameterLayout layout, GpuChunk[] chunks)
    {
        var spans = new GpuTensorSpan[layout.TensorCount];
        int c = 0;
        for (int j = 0; j < layout.TensorCount; j++)
        {
            int first = c;
            while (c < chunks.Length && chunks[c].Tensor == j)
            {
                c++;
            }

            spans[j] = new GpuTensorSpan(first, c - first, layout.LengthOf(j), layout.GroupOf(j));
        }

        return spans;
    }

    /// <summary>
    /// The fixed tree over <paramref name="width"/> sets of <see cref="Lanes"/> lane values in shared memory
    /// (<paramref name="shared"/>[k·256 + l]); reduction k takes the maximum when bit k of <paramref name="maxMask"/>
    /// is set. Every thread of the group calls it; the result of set k is in <paramref name="shared"/>[k·256].
    /// </summary>
    public static void Tree(ArrayView<double> shared, int width, int maxMask)
    {
        Group.Barrier();
        for (int s = Lanes / 2; s > 0; s >>= 1)
        {
            for (int l = Group.IdxX; l < s; l += Group.DimX)
            {
                for (int k = 0; k < width; k++)
                {
                    int at = (k * Lanes) + l;
                    shared[at] = ((maxMask >> k) & 1) != 0 ? Math.Max(shared[at], shared[at + s]) : shared[at] + shared[at + s];
                }
            }

            Group.Barrier();
        }
    }

    /// <summary>
    /// Kernel: one thread per (tensor j, reduction k): the tensor's chunk partials added (or maxed) in chunk order,
    /// then finished as the CPU's <c>ReductionOptimizer</c> finishes them (<see cref="ReductionFormulas.Finish"/>).
    /// </summary>
    internal static void Combine(Index1D index, ArrayView<GpuTensorSpan> tensors, ArrayView<double> partials, ArrayView<double> results, ArrayView<int> kinds)
    {
        int width = kinds.IntLength;
        int j = index / width;
        int k = index % width;
        int kind = kinds[k];
        double r = Combined(tensors[j], partials, width, k, kind == (int)ReductionKind.MaxAbs);
        results[index] = ReductionFormulas.Finish((ReductionKind)kind, r, tensors[j].Length);
    }

    /// <summary>The chunk partials of reduction <paramref name="k"/> of one tensor, in chunk order.</summary>
    internal static double Combined(GpuTensorSpan tensor, ArrayView<double> partials, int width, int k, bool max)
    {
        double r = 0;
        for (int c = tensor.FirstChunk; c < tensor.FirstChunk + tensor.ChunkCount; c++)
        {
            double x = partials[((long)c * width) + k];
            r = max ? Math.Max(r, x) : r + x;
        }

        return r;
    }

    /// <summary>The end of the chunks' virtual indices (chunk c holds c·2048 … c·2048 + its length − 1): a grid-stride loop's bound.</summary>
    internal static long End(ArrayView<GpuChunk> chunks) => chunks.Length << GpuChunk.Shift;

    /// <summary>The chunk and element of virtual index <paramref name="x"/>; false past the chunk's length.</summary>
    internal static bool TryElement(ArrayView<GpuChunk> chunks, long x, out GpuChunk chunk, out int local)
    {
        chunk = chunks[x >> GpuChunk.Shift];
        local = (int)(x & (GpuChunk.Capacity - 1));
        return local < chunk.Length;
    }

    /// <summary>The gradient factor of a pass kernel: device-computed (clipping) or the launch's.</summary>
    public static float GradientFactor(ArrayView<float> factor, in GpuLaunch launch) =>
        launch.DeviceFactor != 0 ? factor[0] : launch.GradientFactor;
}
