using System.ComponentModel;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using ILGPU;
using OptGen.Kernels;

namespace OptGen.Gpu;

/// <summary>
/// One entry of the blockwise update's tensor table: a chunk of at most <see cref="GpuChunk.Capacity"/> elements of
/// one tensor, whose state is either blockwise-quantized (<see cref="Bits"/> 8 or 4: codes and one absmax per block),
/// float32 (a tensor below <see cref="Optimizer.BlockwiseThreshold"/>, or of a float32 group) or bfloat16 (a tensor
/// of a bfloat16 group, when the groups' precisions differ). Chunks start on multiples of 2048 from the tensor's
/// start, so every block (256 or 128 elements) lies in one chunk.
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
[StructLayout(LayoutKind.Sequential)]
public readonly struct GpuBlockChunk
{
    /// <summary>Creates a table entry.</summary>
    public GpuBlockChunk(int tensor, int group, int length, int tensorStart, long arenaStart, long stateStart, long codeStart, long floatStart, int bits)
    {
        Tensor = tensor;
        Group = group;
        Length = length;
        TensorStart = tensorStart;
        ArenaStart = arenaStart;
        StateStart = stateStart;
        CodeStart = codeStart;
        FloatStart = floatStart;
        Bits = bits;
    }

    /// <summary>The tensor, in <see cref="ParameterLayout"/> order.</summary>
    public readonly int Tensor;

    /// <summary>The tensor's parameter group: the index of its kernel struct.</summary>
    public readonly int Group;

    /// <summary>The number of elements, 1 to <see cref="GpuChunk.Capacity"/>.</summary>
    public readonly int Length;

    /// <summary>The chunk's first element, counted from the tensor's start.</summary>
    public readonly int TensorStart;

    /// <summary>The chunk's first element in the parameter and gradient arenas.</summary>
    public readonly long ArenaStart;

    /// <summary>The chunk's first element in the layout's state offsets (the random bits of <c>randn()</c> count from it, as on the CPU).</summary>
    public readonly long StateStart;

    /// <summary>Quantized: the chunk's first code byte in plane 0. Float32 and bfloat16: 0.</summary>
    public readonly long CodeStart;

    /// <summary>
    /// Quantized: the absmax index of the chunk's first block in plane 0. Float32: the chunk's first element in plane 0
    /// of the float32 region. Bfloat16: its first element in plane 0 of the bfloat16 region.
    /// </summary>
    public readonly long FloatStart;

    /// <summary>Bits per value: 8 or 4 (codes), 16 for bfloat16 state, or 0 for float32 state.</summary>
    public readonly int Bits;
}

/// <summary>The per-launch values of the blockwise update kernel: the element launch's values and the device state's layout.</summary>
[EditorBrowsable(EditorBrowsableState.Never)]
[StructLayout(LayoutKind.Sequential)]
public struct GpuBlockwiseLaunch
{
    /// <summary>Storage formats of parameters and gradients, the gradient factor and the rounding inputs (as the float32-state kernel takes them).</summary>
    public GpuLaunch Element;

    /// <summary>Elements per block: 256 (8-bit) or 128 (4-bit); also the work of one thread group on a float32 or bfloat16 chunk.</summary>
    public int BlockLength;

    /// <summary>Bytes between consecutive planes' codes (<c>BlockwiseState.CodeStride</c>).</summary>
    public long CodeStride;

    /// <summary>Floats between consecutive planes' absmax (<c>BlockwiseState.AbsmaxStride</c>); plane 0's absmax start at float 0.</summary>
    public long AbsmaxStride;

    /// <summary>Where the float32 state of the tensors below the threshold starts in the float buffer (plane 0).</summary>
    public long SmallStart;

    /// <summary>Floats between consecutive planes of the float32 state.</summary>
    public long SmallStride;

    /// <summary>Where the bfloat16 state (tensors of bfloat16 groups) starts in the float buffer read as 16-bit values (plane 0).</summary>
    public long NarrowStart;

    /// <summary>16-bit values between consecutive planes of the bfloat16 state.</summary>
    public long NarrowStride;

    /// <summary>The absmax reduction's fan-in (<c>GpuBlockwise.FoldFor</c> the group size): the group size is at most its square.</summary>
    public int Fold;
}

/// <summary>
/// The device side of blockwise-quantized state (<see cref="StatePrecision.Int8Blockwise"/>,
/// <see cref="StatePrecision.Int4Blockwise"/>), called by every rule's generated blockwise kernel: dequantize an
/// element's code, stage the updated value, and per block the absmax (a tree reduction of the magnitudes' bits in
/// shared memory, whose result does not depend on the order) and the requantization, with
/// <see cref="BlockwiseCodebook"/>'s decision rule: the code is the number of decision thresholds ≤ the value
/// (binary search), the magnitude clamped below 2 and bitsandbytes' sign fix, so the codes are the CPU kernel's.
/// </summary>
/// <remarks>
/// <para>The code tables (<c>books</c>, uploaded per precision by <see cref="GpuOptimizer"/>): plane k at
/// k·<see cref="BookStride"/> holds, with N = 2^bits, the code values at [0, N), at N the code the sign fix moves
/// down from (the signed 8-bit map's 0 code) or −1, and at N + c the decision threshold of code c (c = 1 … N − 1).</para>
/// <para>4-bit codes are packed two per byte, the even element in the high nibble; a block's odd last element
/// leaves the low nibble 0, as the CPU writes it.</para>
/// </remarks>
[EditorBrowsable(EditorBrowsableState.Never)]
public static class GpuBlockwise
{
    /// <summary>The longest block (8-bit): each plane's stage in shared memory holds this many floats.</summary>
    public const int MaxBlockLength = 256;

    /// <summary>Scratch per plane for the absmax reduction: one partial per thread, then one per <see cref="GpuBlockwiseLaunch.Fold"/> threads (at most 16).</summary>
    public const int ScratchLength = MaxBlockLength + 16;

    /// <summary>The reduction's fan-in for a group of <paramref name="size"/> threads (a power of two): the smallest power of two whose square is ≥ it (256 → 16).</summary>
    internal static int FoldFor(int size)
    {
        int fold = 1;
        while (fold * fold < size)
        {
            fold *= 2;
        }

        return fold;
    }

    /// <summary>Floats per plane in the code tables: code values and thresholds of the largest map.</summary>
    public const int BookStride = 2 * MaxBlockLength;

    /// <summary>
    /// The value of plane <paramref name="plane"/> of element <paramref name="element"/> of <paramref name="chunk"/>:
    /// Values[code] · absmax of its block, the float32 value of a tensor below the threshold (or of a float32 group),
    /// or the widened bfloat16 value of a tensor of a bfloat16 group.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Load(ArrayView<byte> codes, ArrayView<float> floats, ArrayView<float> books, in GpuBlockwiseLaunch launch, in GpuBlockChunk chunk, int plane, int element)
    {
        if (chunk.Bits == 0)
        {
            return floats[launch.SmallStart + (plane * launch.SmallStride) + chunk.FloatStart + element];
        }

        if (chunk.Bits == 16)
        {
            return GpuElements.WidenBFloat16(floats.Cast<ushort>()[launch.NarrowStart + (plane * launch.NarrowStride) + chunk.FloatStart + element]);
        }

        int packed = codes[(plane * launch.CodeStride) + chunk.CodeStart + (chunk.Bits == 8 ? element : element >> 1)];
        int code = chunk.Bits == 8 ? packed : (element & 1) == 0 ? packed >> 4 : packed & 0xF;
        float absmax = floats[(plane * launch.AbsmaxStride) + chunk.FloatStart + (element / launch.BlockLength)];
        return books[(plane * BookStride) + code] * absmax;
    }

    /// <summary>
    /// Keeps the updated value of plane <paramref name="plane"/> of element <paramref name="element"/> (the
    /// <paramref name="j"/>-th of its block): in the block's stage for a quantized chunk, else stored as float32, or
    /// rounded to bfloat16 (nearest even, as the CPU's bfloat16 state).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(ArrayView<float> stage, ArrayView<float> floats, in GpuBlockwiseLaunch launch, in GpuBlockChunk chunk, int plane, int element, int j, float value)
    {
        if (chunk.Bits == 0)
        {
            floats[launch.SmallStart + (plane * launch.SmallStride) + chunk.FloatStart + element] = value;
        }
        else if (chunk.Bits == 16)
        {
            floats.Cast<ushort>()[launch.NarrowStart + (plane * launch.NarrowStride) + chunk.FloatStart + element] = GpuElements.NarrowBFloat16(value);
        }
        else
        {
            stage[(plane * MaxBlockLength) + j] = value;
        }
    }

    /// <summary>
    /// Called by every thread of the group once its elements of the block are staged: per plane, the block's new
    /// absmax (max |value|, NaN above ∞, as <see cref="BlockwiseBlock.Absmax"/>) and every element's code against it;
    /// writes codes and absmax. Nothing for a float32 or bfloat16 chunk (a branch every thread of the group takes alike).
    /// </summary>
    /// <param name="stage">The staged block: plane k's values at k·<see cref="MaxBlockLength"/>.</param>
    /// <param name="peak">Shared scratch for the reduction: <see cref="ScratchLength"/> per plane.</param>
    /// <param name="codes">The codes.</param>
    /// <param name="floats">The absmax (and the float32 state).</param>
    /// <param name="books">The code tables.</param>
    /// <param name="launch">The layout.</param>
    /// <param name="chunk">The chunk.</param>
    /// <param name="first">The block's first element in the chunk.</param>
    /// <param name="count">The block's elements (fewer than a block only at the tensor's end).</param>
    /// <param name="planes">The rule's state planes.</param>
    public static void Requantize(ArrayView<float> stage, ArrayView<uint> peak, ArrayView<byte> codes, ArrayView<float> floats, ArrayView<float> books, in GpuBlockwiseLaunch launch, in GpuBlockChunk chunk, int first, int count, int planes)
    {
        if (chunk.Bits != 8 && chunk.Bits != 4)
        {
            return;
        }

        int thread = Group.IdxX;
        int size = Group.DimX;

        // Each thread's largest magnitude over the elements it staged (as bits: their integer order is the float
        // order, NaN above +∞; max is exact, so any order of the reduction gives the CPU's absmax) ...
        for (int k = 0; k < planes; k++)
        {
            uint largest = 0;
            for (int j = thread; j < count; j += size)
            {
                uint magnitude = Interop.FloatAsInt(stage[(k * MaxBlockLength) + j]) & 0x7FFF_FFFFu;
                largest = magnitude > largest ? magnitude : largest;
            }

            peak[(k * ScratchLength) + thread] = largest;
        }

        // ... then (every thread's staging done) one fold of launch.Fold partials per thread (size ≤ Fold², e.g. 256
        // threads by sixteens), and every thread reads the at most Fold values left. Three barriers per block.
        Group.Barrier();
        int left = size;
        int at = 0;
        int fold = launch.Fold;
        if (size > fold)
        {
            left = size / fold;
            if (thread < left)
            {
                for (int k = 0; k < planes; k++)
                {
                    peak[(k * ScratchLength) + MaxBlockLength + thread] = Largest(peak, (k * ScratchLength) + (thread * fold), fold);
                }
            }

            Group.Barrier();
            at = MaxBlockLength;
        }

        int n = 1 << chunk.Bits;
        for (int k = 0; k < planes; k++)
        {
            float absmax = Interop.IntAsFloat(Largest(peak, (k * ScratchLength) + at, left));
            if (thread == 0)
            {
                floats[(k * launch.AbsmaxStride) + chunk.FloatStart + (first / launch.BlockLength)] = absmax;
            }

            // A block holding NaN stores codes 0, as the CPU (BlockwiseBlock.Quantize): its NaNs' signs are not portable.
            bool nan = float.IsNaN(absmax);
            float scale = BlockwiseBlock.ScaleOf(absmax);
            int book = k * BookStride;
            long codeBase = (k * launch.CodeStride) + chunk.CodeStart;
            if (chunk.Bits == 8)
            {
                for (int j = thread; j < count; j += size)
                {
                    codes[codeBase + first + j] = nan ? (byte)0 : (byte)Code(books, book, n, stage[(k * MaxBlockLength) + j] * scale);
                }
            }
            else
            {
                // One byte per thread: the pair (2b, 2b + 1), the even element in the high nibble.
                for (int b = thread; 2 * b < count; b += size)
                {
                    int high = nan ? 0 : Code(books, book, n, stage[(k * MaxBlockLength) + (2 * b)] * scale);
                    int low = !nan && (2 * b) + 1 < count ? Code(books, book, n, stage[(k * MaxBlockLength) + (2 * b) + 1] * scale) : 0;
                    codes[codeBase + (first >> 1) + b] = (byte)((high << 4) | low);
                }
            }
        }

        // The stage and the scratch are the next block's.
        Group.Barrier();
    }

    /// <summary>The largest of <paramref name="count"/> values of <paramref name="peak"/> from <paramref name="start"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static uint Largest(ArrayView<uint> peak, int start, int count)
    {
        uint largest = 0;
        for (int i = 0; i < count; i++)
        {
            uint value = peak[start + i];
            largest = value > largest ? value : largest;
        }

        return largest;
    }

    /// <summary>
    /// The code of <paramref name="normalized"/> (a value times 1/absmax) in the table at <paramref name="book"/> of
    /// <paramref name="n"/> codes: the number of thresholds ≤ the value with its magnitude clamped below 2 (NaN and
    /// ±∞ too), then the sign fix (a negative value, −0 included, whose code is the map's 0 takes the code below).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int Code(ArrayView<float> books, int book, int n, float normalized)
    {
        uint bits = Interop.FloatAsInt(normalized);
        uint magnitude = bits & 0x7FFF_FFFFu;
        float x = Interop.IntAsFloat((magnitude < BlockwiseCodebook.Clamp ? magnitude : BlockwiseCodebook.Clamp) | (bits & 0x8000_0000u));
        int code = 0;
        for (int step = n >> 1; step > 0; step >>= 1)
        {
            code += x >= books[book + n + code + step] ? step : 0;
        }

        return code == (int)books[book + n] && (int)bits < 0 ? code - 1 : code;
    }

    /// <summary>The code tables of <paramref name="books"/> (one per plane) in the layout the kernels read.</summary>
    internal static float[] Tables(BlockwiseCodebook[] books)
    {
        float[] tables = new float[System.Math.Max(1, books.Length * BookStride)];
        for (int k = 0; k < books.Length; k++)
        {
            BlockwiseCodebook book = books[k];
            int n = book.Values.Count;
            int start = k * BookStride;
            for (int c = 0; c < n; c++)
            {
                tables[start + c] = book.Values[c];
            }

            tables[start + n] = book.KeepsSign ? book.ZeroCode : -1;
            for (int c = 1; c < n; c++)
            {
                tables[start + n + c] = book.Thresholds[c];
            }
        }

        return tables;
    }
}
