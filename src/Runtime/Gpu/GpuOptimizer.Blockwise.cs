using System;
using System.Runtime.InteropServices;
using ILGPU;
using ILGPU.Runtime;
using OptGen.Kernels;

namespace OptGen.Gpu;

/// <content>
/// Per-tensor state on the device: the host's <see cref="BlockwiseState"/> (8-bit or 4-bit blockwise state, or groups
/// of different precisions) mirrored byte for byte: every plane's codes in one buffer; every plane's absmax, then the
/// float32 state (tensors below <see cref="Optimizer.BlockwiseThreshold"/> and tensors of float32 groups), then the
/// bfloat16 state (tensors of bfloat16 groups) in another. The code tables and a tensor table of 2048-element chunks,
/// sorted by codec, that the rule's generated blockwise kernel walks one block per thread group: one launch over the
/// 4-bit chunks (blocks of 128) and one over the 8-bit chunks (blocks of 256), the float32 and bfloat16 chunks joining
/// the last of them; so a step is one launch, or two when the tensors mix 8-bit and 4-bit state.
/// </content>
public sealed partial class GpuOptimizer
{
    private MemoryBuffer1D<byte, Stride1D.Dense>? _codes;
    private MemoryBuffer1D<float, Stride1D.Dense>? _floats;
    private MemoryBuffer1D<float, Stride1D.Dense>? _books;
    private MemoryBuffer1D<GpuBlockChunk, Stride1D.Dense>? _blockChunks;
    private BlockwiseSegment[] _segments = [];

    /// <summary>The device state's layout (codes, absmax, float32 and bfloat16 regions); each launch adds its block length.</summary>
    private GpuBlockwiseLaunch _blockwise;

    /// <summary>The precision of the device state (the host's when it was last uploaded).</summary>
    private StatePrecision _devicePrecision;

    /// <summary>Whether the device state is per tensor (blockwise state, or groups of different precisions).</summary>
    private bool DeviceIsBlockwise => _codes is not null;

    /// <summary>(Re)allocates the per-tensor device state for <paramref name="state"/> and copies it there; inside the guard.</summary>
    private void UploadBlockwise(BlockwiseState state)
    {
        _state32?.Dispose();
        _state32 = null;
        _state16?.Dispose();
        _state16 = null;
        FreeBlockwise();

        int planes = state.Count;
        long absmaxLength = (long)planes * state.AbsmaxStride;
        long smallStart = Align(absmaxLength);
        long smallStride = Align(state.Small.Length);
        long narrowStart = Align(smallStart + (planes * smallStride));
        long narrowStride = 2 * Align((state.Narrow.Length + 1L) / 2);
        _blockwise = new GpuBlockwiseLaunch
        {
            CodeStride = state.CodeStride,
            AbsmaxStride = state.AbsmaxStride,
            SmallStart = smallStart,
            SmallStride = smallStride,
            NarrowStart = 2 * narrowStart,
            NarrowStride = narrowStride,
        };

        // The code tables of both widths: every plane's 8-bit table, then every plane's 4-bit table.
        var books = new BlockwiseCodebook[2 * planes];
        for (int k = 0; k < planes; k++)
        {
            books[k] = BlockwiseCodebook.For(8, state.IsSigned(k));
            books[planes + k] = BlockwiseCodebook.For(4, state.IsSigned(k));
        }

        (GpuBlockChunk[] chunks, BlockwiseSegment[] segments) = CreateBlockChunks(state, planes);
        try
        {
            _codes = Accelerator.Allocate1D<byte>(Math.Max(1L, (long)planes * state.CodeStride));
            _floats = Accelerator.Allocate1D<float>(Math.Max(1L, narrowStart + (planes * narrowStride / 2)));
            _books = Accelerator.Allocate1D(GpuBlockwise.Tables(books));
            if (chunks.Length > 0)
            {
                _blockChunks = Accelerator.Allocate1D(chunks);
            }
        }
        catch
        {
            FreeBlockwise();
            throw;
        }

        _segments = segments;
        Span<byte> codes = state.AllCodes;
        if (!codes.IsEmpty)
        {
            _codes.View.BaseView.SubView(0, codes.Length).CopyFromCPU(ref MemoryMarshal.GetReference(codes), codes.Length);
        }

        Span<float> absmax = state.AllAbsmax;
        if (!absmax.IsEmpty)
        {
            _floats.View.BaseView.SubView(0, absmax.Length).CopyFromCPU(ref MemoryMarshal.GetReference(absmax), absmax.Length);
        }

        int small = state.Small.Length;
        int narrow = state.Narrow.Length;
        for (int k = 0; k < planes; k++)
        {
            if (small > 0)
            {
                _floats.View.BaseView.SubView(smallStart + (k * smallStride), small).CopyFromCPU(ref MemoryMarshal.GetReference(state.Small.Elements<float>(k, 0, small)), small);
            }

            if (narrow > 0)
            {
                NarrowPlane(k, narrow).CopyFromCPU(ref MemoryMarshal.GetReference(state.Narrow.Elements<ushort>(k, 0, narrow)), narrow);
            }
        }
    }

    /// <summary>Rounds a count of floats up to 64 (256-byte aligned regions).</summary>
    private static long Align(long floats) => (floats + 63L) & ~63L;

    /// <summary>The device's bfloat16 plane <paramref name="plane"/>: the first <paramref name="length"/> 16-bit values.</summary>
    private ArrayView<ushort> NarrowPlane(int plane, int length) =>
        _floats!.View.BaseView.Cast<ushort>().SubView(_blockwise.NarrowStart + (plane * _blockwise.NarrowStride), length);

    /// <summary>
    /// Copies the per-tensor device state into the host optimizer's (codes and absmax exactly, float32 and bfloat16
    /// values); inside the guard, after the device finished.
    /// </summary>
    private void DownloadBlockwise()
    {
        // SynchronizeHostState checked that the host's state is the one uploaded (ThrowIfHostChanged).
        BlockwiseState state = Optimizer.Blockwise!;

        Span<byte> codes = state.AllCodes;
        if (!codes.IsEmpty)
        {
            _codes!.View.BaseView.SubView(0, codes.Length).CopyToCPU(ref MemoryMarshal.GetReference(codes), codes.Length);
        }

        Span<float> absmax = state.AllAbsmax;
        if (!absmax.IsEmpty)
        {
            _floats!.View.BaseView.SubView(0, absmax.Length).CopyToCPU(ref MemoryMarshal.GetReference(absmax), absmax.Length);
        }

        int small = state.Small.Length;
        int narrow = state.Narrow.Length;
        for (int k = 0; k < state.Count; k++)
        {
            if (small > 0)
            {
                _floats!.View.BaseView.SubView(_blockwise.SmallStart + (k * _blockwise.SmallStride), small).CopyToCPU(ref MemoryMarshal.GetReference(state.Small.Elements<float>(k, 0, small)), small);
            }

            if (narrow > 0)
            {
                NarrowPlane(k, narrow).CopyToCPU(ref MemoryMarshal.GetReference(state.Narrow.Elements<ushort>(k, 0, narrow)), narrow);
            }
        }
    }

    /// <summary>
    /// The per-tensor tensor table: every tensor cut into chunks of <see cref="GpuChunk.Capacity"/> elements (whole
    /// blocks), the 4-bit tensors' chunks first, then the 8-bit ones', then the float32 and bfloat16 ones'; and the
    /// launches over it (<see cref="BlockwiseSegment"/>): the 4-bit chunks, then the rest, or one launch over all
    /// when the quantized tensors have one width.
    /// </summary>
    private (GpuBlockChunk[] Chunks, BlockwiseSegment[] Segments) CreateBlockChunks(BlockwiseState state, int planes)
    {
        ParameterLayout layout = Layout;
        long count = 0;
        for (int j = 0; j < layout.TensorCount; j++)
        {
            count += (layout.LengthOf(j) + GpuChunk.Capacity - 1L) / GpuChunk.Capacity;
        }

        var chunks = new GpuBlockChunk[count];
        long c = 0;
        long fourBit = 0;
        long eightBit = 0;
        foreach (int width in (ReadOnlySpan<int>)[4, 8, 0])
        {
            for (int j = 0; j < layout.TensorCount; j++)
            {
                int bits = state.BitsOf(j);
                if ((width == 0 && state.IsQuantized(j)) || (width != 0 && bits != width))
                {
                    continue;
                }

                int blockLength = bits is 8 or 4 ? BlockwiseCodebook.For(bits, true).BlockLength : 1;
                for (int start = 0; start < layout.LengthOf(j); start += GpuChunk.Capacity)
                {
                    bool quantized = bits is 8 or 4;
                    chunks[c++] = new GpuBlockChunk(
                        j,
                        layout.GroupOf(j),
                        Math.Min(GpuChunk.Capacity, layout.LengthOf(j) - start),
                        start,
                        (long)layout.ArenaOffsetOf(j) + start,
                        (long)layout.StateOffsetOf(j) + start,
                        quantized ? state.CodeOffsetOf(j) + BlockwiseBlock.CodeBytes(start, bits) : 0,
                        quantized ? state.AbsmaxOffsetOf(j) + (start / blockLength) : state.FloatOffsetOf(j) + start,
                        bits);
                    fourBit += bits == 4 ? 1 : 0;
                    eightBit += bits == 8 ? 1 : 0;
                }
            }
        }

        if (count == 0)
        {
            return (chunks, []);
        }

        // The float32 and bfloat16 chunks join the last launch: the 8-bit one, or the 4-bit one when no tensor is 8-bit.
        if (fourBit > 0 && eightBit > 0)
        {
            return (chunks, [Segment(0, fourBit, 4, planes), Segment(fourBit, count - fourBit, 8, planes)]);
        }

        return (chunks, [Segment(0, count, fourBit > 0 ? 4 : 8, planes)]);
    }

    /// <summary>The launch over chunks [<paramref name="first"/>, first + <paramref name="count"/>) with the blocks of <paramref name="bits"/>-bit codes.</summary>
    private BlockwiseSegment Segment(long first, long count, int bits, int planes)
    {
        // One thread group per block at a time: a power of two of at most a block, as many groups as stay resident.
        // ILGPU's CPU accelerator runs every thread of a group as a thread of its own, so there a barrier costs a
        // synchronisation of that many threads: it gets groups of one warp.
        int blockLength = BlockwiseCodebook.For(bits, true).BlockLength;
        int widest = Accelerator.AcceleratorType == AcceleratorType.CPU ? Accelerator.WarpSize : Accelerator.MaxNumThreadsPerGroup;
        int size = 1;
        while (size * 2 <= Math.Min(blockLength, widest))
        {
            size *= 2;
        }

        long blocks = Math.Max(1L, count * (GpuChunk.Capacity / blockLength));
        int groups = (int)Math.Clamp(Accelerator.MaxNumThreads / size, 1L, blocks);
        return new BlockwiseSegment(first, count, blockLength, GpuBlockwise.FoldFor(size), new KernelConfig(groups, size), bits == 8 ? 0 : (long)planes * GpuBlockwise.BookStride, planes * GpuBlockwise.BookStride);
    }

    /// <summary>The update launches over per-tensor state, with the element launch's values (codecs, gradient factor, rounding).</summary>
    private void LaunchBlockwise(AcceleratorStream stream, in GpuUpdateViews views, GpuLaunch launch)
    {
        foreach (BlockwiseSegment segment in _segments)
        {
            GpuBlockwiseLaunch blockwise = _blockwise;
            blockwise.Element = launch;
            blockwise.BlockLength = segment.BlockLength;
            blockwise.Fold = segment.Fold;
            var state = new GpuBlockwiseViews
            {
                Chunks = _blockChunks!.View.BaseView.SubView(segment.First, segment.Count),
                Codes = _codes!.View.BaseView,
                Floats = _floats!.View.BaseView,
                Books = _books!.View.BaseView.SubView(segment.BookStart, Math.Max(1, segment.BookLength)),
            };
            _update.LaunchBlockwise(stream, segment.Config, views, state, blockwise);
        }
    }

    /// <summary>
    /// Copies tensor <paramref name="tensor"/>'s part of state buffer <paramref name="name"/>, dequantized: the device
    /// state is copied into the host optimizer's staging copy first (as <see cref="SynchronizeHostState"/> does), whose
    /// <see cref="Optimizer.CopyState(string, int, Span{float})"/> then dequantizes it.
    /// </summary>
    private void CopyBlockwiseState(string name, int tensor, Span<float> destination)
    {
        using DeviceGuard device = EnterDevice("GpuOptimizer.CopyState");
        SynchronizeHostStateCore();
        Optimizer.CopyState(name, tensor, destination);
    }

    /// <summary>Frees the blockwise device state.</summary>
    private void FreeBlockwise()
    {
        _codes?.Dispose();
        _codes = null;
        _floats?.Dispose();
        _floats = null;
        _books?.Dispose();
        _books = null;
        _blockChunks?.Dispose();
        _blockChunks = null;
        _segments = [];
    }

    /// <summary>
    /// One launch of the blockwise kernel: chunks [<paramref name="First"/>, First + <paramref name="Count"/>) of the
    /// tensor table, blocks of <paramref name="BlockLength"/>, the reduction's fan-in, the grid, and the code tables
    /// of the chunks' width (from <paramref name="BookStart"/>, <paramref name="BookLength"/> floats).
    /// </summary>
    [StructLayout(LayoutKind.Auto)]
    private readonly record struct BlockwiseSegment(long First, long Count, int BlockLength, int Fold, KernelConfig Config, long BookStart, int BookLength);
}
