using System;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using OptGen.Kernels;

namespace OptGen;

/// <summary>
/// The state of an optimizer with blockwise-quantized state, or with a state precision per parameter group: per
/// tensor either codes (8-bit or 4-bit, each tensor starting on a block) with one float32 absmax per block, or float32
/// values in <see cref="Small"/> (tensors shorter than the threshold, and tensors of a float32 group), or bfloat16
/// values in <see cref="Narrow"/> (tensors of a bfloat16 group). Plane k's codes of every tensor lie in one pinned run
/// of bytes, its absmax in one pinned run of floats.
/// </summary>
internal sealed class BlockwiseState
{
    private readonly int[] _bits;          // per tensor: 8, 4, 16 (bfloat16) or 0 (float32)
    private readonly long[] _codeOffset;   // per tensor: first code byte within a plane
    private readonly int[] _absmaxOffset;  // per tensor: first block within a plane
    private readonly int[] _floatOffset;   // per tensor: first element within a plane of Small (float32) or Narrow (bfloat16)
    private readonly bool[] _signed;       // per plane
    private readonly bool[] _float32;      // per plane: never quantized, kept in float32 (compact, or not stageable)
    private readonly int[] _slot;          // per plane: its codes' and absmax' place among the quantized planes, −1 when compact
    private readonly byte[] _codes;
    private readonly float[] _absmax;

    /// <summary>Creates zeroed state (codes of 0 with absmax 0: every value 0).</summary>
    /// <param name="layout">The tensors.</param>
    /// <param name="bitsOf">Per tensor: 8 or 4 bits, 16 for bfloat16, or 0 for float32.</param>
    /// <param name="signed">Per plane: whether its values can be negative.</param>
    /// <param name="extents">The planes' extents per tensor when some plane is compact (<see cref="StateExtents"/>), or null: every extent is its tensor's length.</param>
    /// <param name="float32Planes">
    /// Per plane whether it is never quantized (a compact plane, or one the rule's passes cannot stage), or null: none.
    /// A quantized tensor keeps such a plane in float32 (in <see cref="Small"/>); only the other planes hold codes.
    /// </param>
    public BlockwiseState(ParameterLayout layout, int[] bitsOf, bool[] signed, StateExtents? extents = null, bool[]? float32Planes = null)
    {
        Layout = layout;
        Count = signed.Length;
        _bits = bitsOf;
        _signed = signed;
        _float32 = float32Planes ?? new bool[Count];
        _slot = new int[Count];
        int quantizedPlanes = 0;
        for (int k = 0; k < Count; k++)
        {
            _slot[k] = _float32[k] ? -1 : quantizedPlanes++;
        }

        _codeOffset = new long[layout.TensorCount];
        _absmaxOffset = new int[layout.TensorCount];
        _floatOffset = new int[layout.TensorCount];
        long codes = 0;
        long blocks = 0;
        int floats = 0;
        int narrow = 0;
        for (int j = 0; j < layout.TensorCount; j++)
        {
            int length = layout.LengthOf(j);
            _codeOffset[j] = codes;
            _absmaxOffset[j] = checked((int)blocks);
            _floatOffset[j] = bitsOf[j] == 16 ? narrow : floats;
            if (bitsOf[j] == 0)
            {
                floats = checked(floats + RoundUp(length, 16));
                continue;
            }

            if (bitsOf[j] == 16)
            {
                narrow = checked(narrow + RoundUp(length, 32));
                continue;
            }

            int blockLength = BlockwiseCodebook.For(bitsOf[j], true).BlockLength;
            long blockCount = (length + (long)blockLength - 1) / blockLength;
            codes += RoundUp(BlockwiseBlock.CodeBytes(blockCount * blockLength, bitsOf[j]), 64);
            blocks += RoundUp(blockCount, 16);
        }

        CodeStride = checked((int)codes);
        AbsmaxStride = checked((int)blocks);
        _codes = GC.AllocateArray<byte>(checked(quantizedPlanes * CodeStride), pinned: true);
        _absmax = GC.AllocateArray<float>(checked(quantizedPlanes * AbsmaxStride), pinned: true);
        HasExtents = extents is not null || Array.IndexOf(_float32, true) >= 0;
        if (!HasExtents)
        {
            Small = new StateStorage(Count, floats);
            Narrow = new StateStorage(Count, narrow, sizeof(ushort));
            return;
        }

        // Each plane's float32 (bfloat16) values, tensor after tensor, hold the extents of the tensors it keeps in
        // float32 (bfloat16): every plane of a float32 tensor, the float32 planes of a quantized one.
        var small = new int[Count][];
        var narrowLengths = new int[Count][];
        for (int k = 0; k < Count; k++)
        {
            small[k] = new int[layout.TensorCount];
            narrowLengths[k] = new int[layout.TensorCount];
            for (int j = 0; j < layout.TensorCount; j++)
            {
                int length = extents?.LengthOf(k, j) ?? layout.LengthOf(j);
                switch (BitsOf(k, j))
                {
                    case 0:
                        small[k][j] = length;
                        break;
                    case 16:
                        narrowLengths[k][j] = length;
                        break;
                }
            }
        }

        Extents = extents;
        Small = new StateStorage(new StateExtents(small), sizeof(float));
        Narrow = new StateStorage(new StateExtents(narrowLengths), sizeof(ushort));
    }

    /// <summary>The planes' extents per tensor when some plane is compact, else null (every extent is its tensor's length).</summary>
    public StateExtents? Extents { get; }

    /// <summary>The tensors.</summary>
    public ParameterLayout Layout { get; }

    /// <summary>The number of planes (the rule's state buffers).</summary>
    public int Count { get; }

    /// <summary>Bytes between planes' codes.</summary>
    public int CodeStride { get; }

    /// <summary>Floats between planes' absmax.</summary>
    public int AbsmaxStride { get; }

    /// <summary>The float32 state of the tensors kept in float32 (below the threshold, or in a float32 group).</summary>
    public StateStorage Small { get; }

    /// <summary>Every plane's codes in one run (plane k at k·<see cref="CodeStride"/>): the GPU optimizer mirrors it byte for byte.</summary>
    internal Span<byte> AllCodes => _codes;

    /// <summary>Every plane's absmax in one run (plane k at k·<see cref="AbsmaxStride"/>).</summary>
    internal Span<float> AllAbsmax => _absmax;

    /// <summary>Tensor <paramref name="tensor"/>'s first code byte within a plane (a quantized tensor).</summary>
    internal long CodeOffsetOf(int tensor) => _codeOffset[tensor];

    /// <summary>Tensor <paramref name="tensor"/>'s first block within a plane's absmax (a quantized tensor).</summary>
    internal int AbsmaxOffsetOf(int tensor) => _absmaxOffset[tensor];

    /// <summary>The bfloat16 state of the tensors of bfloat16 groups (a precision per group).</summary>
    public StateStorage Narrow { get; }

    /// <summary>Bits per code of tensor <paramref name="tensor"/>: 8, 4, 16 when it is kept in bfloat16, or 0 when it is kept in float32.</summary>
    public int BitsOf(int tensor) => _bits[tensor];

    /// <summary>How tensor <paramref name="tensor"/>'s part of plane <paramref name="plane"/> is stored: the tensor's <see cref="BitsOf(int)"/>, but 0 (float32) for a float32 plane of a quantized tensor.</summary>
    public int BitsOf(int plane, int tensor) => _float32[plane] && _bits[tensor] is 8 or 4 ? 0 : _bits[tensor];

    /// <summary>Whether plane <paramref name="plane"/> is never quantized (kept in float32 by quantized tensors).</summary>
    public bool IsFloat32Plane(int plane) => _float32[plane];

    /// <summary>Whether some plane is never quantized, or compact: the planes' float values are laid out by extents (no common stride).</summary>
    public bool HasExtents { get; }

    /// <summary>The values of tensor <paramref name="tensor"/>'s part of plane <paramref name="plane"/>: its length unless the plane is compact.</summary>
    public int LengthOf(int plane, int tensor) => Extents?.LengthOf(plane, tensor) ?? Layout.LengthOf(tensor);

    /// <summary>Whether tensor <paramref name="tensor"/> is stored as codes and absmax (8-bit or 4-bit), in every plane that is not compact.</summary>
    public bool IsQuantized(int tensor) => _bits[tensor] is 8 or 4;

    /// <summary>Tensor <paramref name="tensor"/>'s float32 values in plane <paramref name="plane"/> (<see cref="BitsOf(int, int)"/> is 0).</summary>
    public Span<float> Floats(int plane, int tensor) => Small.Elements<float>(plane, FloatOffsetOf(plane, tensor), LengthOf(plane, tensor));

    /// <summary>Tensor <paramref name="tensor"/>'s bfloat16 bits in plane <paramref name="plane"/> (a tensor kept in bfloat16).</summary>
    public Span<ushort> BFloats(int plane, int tensor) => Narrow.Elements<ushort>(plane, FloatOffsetOf(plane, tensor), LengthOf(plane, tensor));

    /// <summary>Where tensor <paramref name="tensor"/>'s values start in plane <paramref name="plane"/> of <see cref="Small"/> or <see cref="Narrow"/> (the one that holds them).</summary>
    public int FloatOffsetOf(int plane, int tensor) => !HasExtents
        ? _floatOffset[tensor]
        : (_bits[tensor] == 16 ? Narrow : Small).OffsetOf(plane, tensor, Layout);

    /// <summary>Whether plane <paramref name="plane"/> uses the signed map.</summary>
    public bool IsSigned(int plane) => _signed[plane];

    /// <summary>The first element of tensor <paramref name="tensor"/> within a plane of <see cref="Small"/> (every plane the same: no compact plane).</summary>
    public int FloatOffsetOf(int tensor) => _floatOffset[tensor];

    /// <summary>Plane <paramref name="plane"/>'s codebook for tensor <paramref name="tensor"/> (a quantized one).</summary>
    public BlockwiseCodebook Codebook(int plane, int tensor) => BlockwiseCodebook.For(_bits[tensor], _signed[plane]);

    /// <summary>The codebooks of tensor <paramref name="tensor"/>, one per plane (cached: no allocation per step).</summary>
    public BlockwiseCodebook[] Codebooks(int tensor) => _bits[tensor] == 8 ? (_books8 ??= Books(8)) : (_books4 ??= Books(4));

    private BlockwiseCodebook[]? _books8;
    private BlockwiseCodebook[]? _books4;

    private BlockwiseCodebook[] Books(int bits)
    {
        var books = new BlockwiseCodebook[Count];
        for (int k = 0; k < Count; k++)
        {
            books[k] = BlockwiseCodebook.For(bits, _signed[k]);
        }

        return books;
    }

    /// <summary>The bytes of tensor <paramref name="tensor"/>'s codes in plane <paramref name="plane"/> (whole blocks).</summary>
    public Span<byte> Codes(int plane, int tensor)
    {
        int bits = _bits[tensor];
        int blockLength = BlockwiseCodebook.For(bits, true).BlockLength;
        long blocks = (Layout.LengthOf(tensor) + (long)blockLength - 1) / blockLength;
        return _codes.AsSpan((int)((_slot[plane] * (long)CodeStride) + _codeOffset[tensor]), (int)BlockwiseBlock.CodeBytes(blocks * blockLength, bits));
    }

    /// <summary>Tensor <paramref name="tensor"/>'s absmax in plane <paramref name="plane"/>, one per block.</summary>
    public Span<float> Absmax(int plane, int tensor)
    {
        int blockLength = BlockwiseCodebook.For(_bits[tensor], true).BlockLength;
        int blocks = (Layout.LengthOf(tensor) + blockLength - 1) / blockLength;
        return _absmax.AsSpan((_slot[plane] * AbsmaxStride) + _absmaxOffset[tensor], blocks);
    }

    /// <summary>The launch arguments of elements [start, …) of quantized tensor <paramref name="tensor"/>; start is a block start.</summary>
    public unsafe BlockwiseArguments ArgumentsFor(int tensor, int start)
    {
        int bits = _bits[tensor];
        int blockLength = BlockwiseCodebook.For(bits, true).BlockLength;
        nint codes = (nint)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(_codes)) + (nint)_codeOffset[tensor] + (nint)BlockwiseBlock.CodeBytes(start, bits);
        nint absmax = (nint)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(_absmax)) + ((_absmaxOffset[tensor] + (start / blockLength)) * sizeof(float));
        return new BlockwiseArguments(Codebooks(tensor), codes, CodeStride, absmax, AbsmaxStride);
    }

    /// <summary>Reads tensor <paramref name="tensor"/>'s part of plane <paramref name="plane"/>, dequantized, into <paramref name="values"/>.</summary>
    public void Read(int plane, int tensor, Span<float> values)
    {
        if (BitsOf(plane, tensor) == 0)
        {
            Floats(plane, tensor).CopyTo(values);
            return;
        }

        if (_bits[tensor] == 16)
        {
            Span<ushort> bits = BFloats(plane, tensor);
            for (int i = 0; i < bits.Length; i++)
            {
                values[i] = BitConverter.Int32BitsToSingle(bits[i] << 16);
            }

            return;
        }

        BlockwiseCodebook book = Codebook(plane, tensor);
        Span<byte> codes = Codes(plane, tensor);
        Span<float> absmax = Absmax(plane, tensor);
        int blockLength = book.BlockLength;
        for (int b = 0; b < absmax.Length; b++)
        {
            int start = b * blockLength;
            int count = Math.Min(blockLength, values.Length - start);
            BlockwiseBlock.Dequantize(book, ref codes[(int)BlockwiseBlock.CodeBytes(start, book.Bits)], absmax[b], values.Slice(start, count));
        }
    }

    /// <summary>Writes <paramref name="values"/> into tensor <paramref name="tensor"/>'s part of plane <paramref name="plane"/>, quantized per block.</summary>
    public void Write(int plane, int tensor, ReadOnlySpan<float> values)
    {
        if (BitsOf(plane, tensor) == 0)
        {
            values.CopyTo(Floats(plane, tensor));
            return;
        }

        if (_bits[tensor] == 16)
        {
            Span<ushort> bits = BFloats(plane, tensor);
            for (int i = 0; i < bits.Length; i++)
            {
                bits[i] = BFloat16Codec.Narrow(values[i]);
            }

            return;
        }

        BlockwiseCodebook book = Codebook(plane, tensor);
        Span<byte> codes = Codes(plane, tensor);
        Span<float> absmax = Absmax(plane, tensor);
        int blockLength = book.BlockLength;
        for (int b = 0; b < absmax.Length; b++)
        {
            int start = b * blockLength;
            ReadOnlySpan<float> block = values.Slice(start, Math.Min(blockLength, values.Length - start));
            absmax[b] = BlockwiseBlock.Absmax(block);
            BlockwiseBlock.Quantize(book, block, absmax[b], ref codes[(int)BlockwiseBlock.CodeBytes(start, book.Bits)]);
        }
    }

    /// <summary>Bytes of state that hold information: codes, absmax, float32 and bfloat16 values of every tensor and plane (no padding).</summary>
    public long Bytes
    {
        get
        {
            long total = 0;
            for (int k = 0; k < Count; k++)
            {
                for (int j = 0; j < Layout.TensorCount; j++)
                {
                    total += TensorBytes(LengthOf(k, j), BitsOf(k, j));
                }
            }

            return total;
        }
    }

    /// <summary>
    /// The bytes one plane of a tensor of <paramref name="length"/> elements holds with <paramref name="bits"/> per
    /// value (0: float32, 16: bfloat16, 8 or 4: codes and one float32 absmax per block); what a checkpoint stores.
    /// </summary>
    public static long TensorBytes(int length, int bits)
    {
        if (bits is 0 or 16)
        {
            return (long)length * (bits == 0 ? sizeof(float) : sizeof(ushort));
        }

        int blockLength = BlockwiseCodebook.For(bits, true).BlockLength;
        long blocks = (length + (long)blockLength - 1) / blockLength;
        return BlockwiseBlock.CodeBytes(length, bits) + (blocks * sizeof(float));
    }

    private static int RoundUp(int value, int multiple) => checked((value + multiple - 1) / multiple * multiple);

    private static long RoundUp(long value, long multiple) => (value + multiple - 1) / multiple * multiple;
}
