using System;
using System.Runtime.InteropServices;
using ILGPU;
using ILGPU.Runtime;
using OptGen.Kernels;

namespace OptGen.Gpu;

/// <content>
/// Blockwise-quantized state on the device (<see cref="StatePrecision.Int8Blockwise"/>,
/// <see cref="StatePrecision.Int4Blockwise"/>): the host's <see cref="BlockwiseState"/> mirrored byte for byte (every
/// plane's codes in one buffer; every plane's absmax, then the float32 state of the tensors below
/// <see cref="Optimizer.BlockwiseThreshold"/>, in another), the code tables, and a tensor table of 2048-element chunks
/// that the rule's generated blockwise kernel walks one block per thread group.
/// </content>
public sealed partial class GpuOptimizer
{
    private MemoryBuffer1D<byte, Stride1D.Dense>? _codes;
    private MemoryBuffer1D<float, Stride1D.Dense>? _floats;
    private MemoryBuffer1D<float, Stride1D.Dense>? _books;
    private MemoryBuffer1D<GpuBlockChunk, Stride1D.Dense>? _blockChunks;
    private GpuBlockwiseLaunch _blockwise;
    private KernelConfig _blockwiseConfig;

    /// <summary>The precision of the device state (the host's when it was last uploaded).</summary>
    private StatePrecision _devicePrecision;

    /// <summary>Whether the device state is blockwise (a rule with state in 8-bit or 4-bit precision).</summary>
    private bool DeviceIsBlockwise => _codes is not null;

    /// <summary>
    /// Refuses, before anything changes, blockwise state the device cannot run: a rule whose generated code has no
    /// blockwise kernel, or tensors quantized with different bits (per-group precisions mixing 8-bit and 4-bit).
    /// </summary>
    /// <exception cref="NotSupportedException">As above; nothing was changed.</exception>
    private void ThrowIfBlockwiseUnsupported(StatePrecision precision, string parameter)
    {
        if (precision is not (StatePrecision.Int8Blockwise or StatePrecision.Int4Blockwise) || Optimizer.Descriptor.States.Count == 0)
        {
            return;
        }

        if (!_update.HasBlockwise)
        {
            throw new NotSupportedException($"'{Optimizer.Descriptor.Name}' was generated without a blockwise GPU kernel; {precision} state runs on the CPU only ({parameter}). Nothing was changed.");
        }

        if (Optimizer.Blockwise is { } state && BitsOf(state) < 0)
        {
            throw new NotSupportedException($"The GPU optimizer runs one blockwise precision for every tensor; this optimizer's tensors mix 8-bit and 4-bit state ({parameter}). Nothing was changed.");
        }
    }

    /// <summary>
    /// The bits of every quantized tensor of <paramref name="state"/> (0 when none is), or −1 when they differ. (Groups
    /// of their own precision, bfloat16 tensors included, are refused before: <c>ThrowIfGroupStatePrecision</c>.)
    /// </summary>
    private int BitsOf(BlockwiseState state)
    {
        int bits = 0;
        for (int j = 0; j < Layout.TensorCount; j++)
        {
            int b = state.IsQuantized(j) ? state.BitsOf(j) : 0;
            if (b != 0 && bits != 0 && b != bits)
            {
                return -1;
            }

            bits = b != 0 ? b : bits;
        }

        return bits;
    }

    /// <summary>(Re)allocates the blockwise device state for <paramref name="state"/> and copies it there; inside the guard.</summary>
    private void UploadBlockwise(BlockwiseState state)
    {
        _state32?.Dispose();
        _state32 = null;
        _state16?.Dispose();
        _state16 = null;
        FreeBlockwise();

        int planes = state.Count;
        int bits = BitsOf(state);
        int blockLength = bits == 4 ? BlockwiseCodebook.Int4Signed.BlockLength : BlockwiseCodebook.Int8Signed.BlockLength;
        long absmaxLength = (long)planes * state.AbsmaxStride;
        long smallStart = (absmaxLength + 63L) & ~63L;
        long smallStride = (state.Small.Length + 63L) & ~63L;
        _blockwise = new GpuBlockwiseLaunch
        {
            BlockLength = blockLength,
            CodeStride = state.CodeStride,
            AbsmaxStride = state.AbsmaxStride,
            SmallStart = smallStart,
            SmallStride = smallStride,
        };

        var books = new BlockwiseCodebook[planes];
        for (int k = 0; k < planes; k++)
        {
            books[k] = BlockwiseCodebook.For(bits == 0 ? 8 : bits, state.IsSigned(k));
        }

        GpuBlockChunk[] chunks = CreateBlockChunks(state, blockLength);
        try
        {
            _codes = Accelerator.Allocate1D<byte>(Math.Max(1L, (long)planes * state.CodeStride));
            _floats = Accelerator.Allocate1D<float>(Math.Max(1L, smallStart + (planes * smallStride)));
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

        // One thread group per block at a time: a power of two of at most a block, as many groups as stay resident.
        // ILGPU's CPU accelerator runs every thread of a group as a thread of its own, so there a barrier costs a
        // synchronisation of that many threads: it gets groups of one warp.
        int widest = Accelerator.AcceleratorType == AcceleratorType.CPU ? Accelerator.WarpSize : Accelerator.MaxNumThreadsPerGroup;
        int size = 1;
        while (size * 2 <= Math.Min(blockLength, widest))
        {
            size *= 2;
        }

        long blocks = Math.Max(1L, (long)chunks.Length * (GpuChunk.Capacity / blockLength));
        int groups = (int)Math.Clamp(Accelerator.MaxNumThreads / size, 1L, blocks);
        _blockwiseConfig = new KernelConfig(groups, size);
        _blockwise.Fold = GpuBlockwise.FoldFor(size);

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
        for (int k = 0; k < planes && small > 0; k++)
        {
            _floats.View.BaseView.SubView(smallStart + (k * smallStride), small).CopyFromCPU(ref MemoryMarshal.GetReference(state.Small.Elements<float>(k, 0, small)), small);
        }
    }

    /// <summary>
    /// Copies the blockwise device state into the host optimizer's (codes and absmax exactly); inside the guard, after
    /// the device finished.
    /// </summary>
    /// <exception cref="InvalidOperationException">The host optimizer was converted directly (another precision); nothing was written.</exception>
    private void DownloadBlockwise()
    {
        // SynchronizeHostState checked that the host's precision is the device's (ThrowIfHostChanged).
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
        for (int k = 0; k < state.Count && small > 0; k++)
        {
            _floats!.View.BaseView.SubView(_blockwise.SmallStart + (k * _blockwise.SmallStride), small).CopyToCPU(ref MemoryMarshal.GetReference(state.Small.Elements<float>(k, 0, small)), small);
        }
    }

    /// <summary>The blockwise tensor table: every tensor cut into chunks of <see cref="GpuChunk.Capacity"/> elements (whole blocks).</summary>
    private GpuBlockChunk[] CreateBlockChunks(BlockwiseState state, int blockLength)
    {
        ParameterLayout layout = Layout;
        long count = 0;
        for (int j = 0; j < layout.TensorCount; j++)
        {
            count += (layout.LengthOf(j) + GpuChunk.Capacity - 1L) / GpuChunk.Capacity;
        }

        var chunks = new GpuBlockChunk[count];
        long c = 0;
        for (int j = 0; j < layout.TensorCount; j++)
        {
            int bits = state.IsQuantized(j) ? state.BitsOf(j) : 0;
            for (int start = 0; start < layout.LengthOf(j); start += GpuChunk.Capacity)
            {
                long codeStart = bits == 0 ? 0 : state.CodeOffsetOf(j) + BlockwiseBlock.CodeBytes(start, bits);
                long floatStart = bits == 0 ? state.FloatOffsetOf(j) + start : state.AbsmaxOffsetOf(j) + (start / blockLength);
                chunks[c++] = new GpuBlockChunk(
                    j,
                    layout.GroupOf(j),
                    Math.Min(GpuChunk.Capacity, layout.LengthOf(j) - start),
                    start,
                    (long)layout.ArenaOffsetOf(j) + start,
                    (long)layout.StateOffsetOf(j) + start,
                    codeStart,
                    floatStart,
                    bits);
            }
        }

        return chunks;
    }

    /// <summary>The update launch over blockwise state, with the element launch's values (codecs, gradient factor, rounding).</summary>
    private void LaunchBlockwise(AcceleratorStream stream, in GpuUpdateViews views, GpuLaunch launch)
    {
        GpuBlockwiseLaunch blockwise = _blockwise;
        blockwise.Element = launch;
        var state = new GpuBlockwiseViews
        {
            Chunks = _blockChunks!.View.BaseView,
            Codes = _codes!.View.BaseView,
            Floats = _floats!.View.BaseView,
            Books = _books!.View.BaseView,
        };
        _update.LaunchBlockwise(stream, _blockwiseConfig, views, state, blockwise);
    }

    /// <summary>
    /// Copies tensor <paramref name="tensor"/>'s part of state buffer <paramref name="name"/>, dequantized: the device
    /// state is copied into the host optimizer's staging copy first (as <see cref="SynchronizeHostState"/> does), whose
    /// <see cref="Optimizer.CopyState(string, int, Span{float})"/> then dequantizes it.
    /// </summary>
    private void CopyBlockwiseState(string name, int tensor, Span<float> destination)
    {
        SynchronizeHostState();
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
    }
}
