using System;
using System.Diagnostics;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace OptGen.Kernels;

/// <summary>The SIMD path of <see cref="BlockwiseBlock"/>: the best the CPU has, or a narrower one (each falls back to the next when the CPU lacks it).</summary>
internal enum BlockwisePath
{
    /// <summary>AVX-512 with the 8-bit code lines, and with VBMI where available: byte-plane dequantization, the 4-bit linear rule and byte-packed 4-bit codes.</summary>
    Best,

    /// <summary>AVX-512 without them: the 8-bit and 4-bit searches, float permutes to dequantize.</summary>
    Avx512,

    /// <summary>AVX2: gathers from the bucket and code tables.</summary>
    Avx2,

    /// <summary>Scalar only.</summary>
    Scalar,
}

/// <summary>
/// One block of blockwise-quantized state: codes to float32 values, the block's absmax, float32 values to codes.
/// 8-bit codes are one byte per value; 4-bit codes are packed two per byte, the even element in the high nibble (as
/// torchao packs them). The one definition used by the fused step (<see cref="BlockwiseDriver"/>), the conversions
/// between precisions and the checkpoints.
/// </summary>
public static class BlockwiseBlock
{
    /// <summary>Bytes of codes for <paramref name="length"/> values of <paramref name="bits"/>-bit codes.</summary>
    public static long CodeBytes(long length, int bits) => bits == 8 ? length : (length + 1) / 2;

    /// <summary>Writes Values[code] · <paramref name="absmax"/> for the block's codes into <paramref name="values"/>.</summary>
    /// <param name="book">The codebook.</param>
    /// <param name="codes">The block's first code byte.</param>
    /// <param name="absmax">The block's absmax.</param>
    /// <param name="values">One float per value of the block.</param>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Dequantize(BlockwiseCodebook book, ref byte codes, float absmax, Span<float> values) =>
        Dequantize(book, ref codes, absmax, values, BlockwisePath.Best);

    /// <summary><see cref="Dequantize(BlockwiseCodebook, ref byte, float, Span{float})"/> on the given path (tests force each one; all give the same values).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static unsafe void Dequantize(BlockwiseCodebook book, ref byte codes, float absmax, Span<float> values, BlockwisePath path)
    {
        int i = 0;
        if (path <= BlockwisePath.Avx512 && Avx512F.IsSupported)
        {
            i = DequantizeAvx512(book, ref codes, absmax, values, path);
        }
        else if (path <= BlockwisePath.Avx2 && Avx2.IsSupported)
        {
            // Eight codes at a time: widened to int32 and gathered from the (pinned) table, times absmax.
            float* table = (float*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(book.ValueTable));
            Vector256<float> scale = Vector256.Create(absmax);
            ref float first = ref MemoryMarshal.GetReference(values);
            for (; i + 8 <= values.Length; i += 8)
            {
                Vector256<int> index;
                if (book.Bits == 8)
                {
                    index = Avx2.ConvertToVector256Int32(Vector128.CreateScalarUnsafe(Unsafe.ReadUnaligned<ulong>(ref Unsafe.Add(ref codes, i))).AsByte());
                }
                else
                {
                    // Four bytes hold eight codes, the even element in the high nibble.
                    Vector128<byte> packed = Vector128.CreateScalarUnsafe(Unsafe.ReadUnaligned<uint>(ref Unsafe.Add(ref codes, i >> 1))).AsByte();
                    Vector128<byte> nibbles = Sse2.UnpackLow(Sse2.ShiftRightLogical(packed.AsUInt16(), 4).AsByte() & Vector128.Create((byte)0xF), packed & Vector128.Create((byte)0xF));
                    index = Avx2.ConvertToVector256Int32(nibbles);
                }

                (Avx2.GatherVector256(table, index, 4) * scale).StoreUnsafe(ref first, (nuint)i);
            }
        }

        if (book.Bits == 8)
        {
            for (; i < values.Length; i++)
            {
                values[i] = book.Dequantize(Unsafe.Add(ref codes, i), absmax);
            }

            return;
        }

        for (; i < values.Length; i++)
        {
            int packed = Unsafe.Add(ref codes, i >> 1);
            values[i] = book.Dequantize((i & 1) == 0 ? packed >> 4 : packed & 0xF, absmax);
        }
    }

    /// <summary>
    /// The driver's chunk of whole blocks of one state plane: block b of <paramref name="values"/> from its codes and
    /// <paramref name="absmax"/>[b], the values <see cref="Dequantize(BlockwiseCodebook, ref byte, float, Span{float})"/>
    /// gives each block (8-bit codes with VBMI: one loop over the chunk, the byte-plane tables loaded once).
    /// </summary>
    /// <param name="book">The codebook.</param>
    /// <param name="codes">The first block's first code byte.</param>
    /// <param name="absmax">One absmax per block.</param>
    /// <param name="values">The blocks' values: <see cref="BlockwiseCodebook.BlockLength"/> per absmax.</param>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    internal static void DequantizeBlocks(BlockwiseCodebook book, ref byte codes, ReadOnlySpan<float> absmax, Span<float> values)
    {
        int n = book.BlockLength;
        Debug.Assert(values.Length == absmax.Length * n, "whole blocks");
        if (book.Bits == 8 && Avx512F.IsSupported && Avx512Vbmi.IsSupported)
        {
            DequantizeBytePlanes(book, ref codes, ref MemoryMarshal.GetReference(absmax), BitOperations.Log2((uint)n), ref MemoryMarshal.GetReference(values), values.Length);
            return;
        }

        for (int b = 0; b < absmax.Length; b++)
        {
            Dequantize(book, ref Unsafe.Add(ref codes, (nint)CodeBytes((long)b * n, book.Bits)), absmax[b], values.Slice(b * n, n));
        }
    }

    /// <summary>
    /// max |value| over <paramref name="values"/>, NaN when any value is NaN (computed on the magnitudes' bits, whose
    /// integer order is the float order, with NaN above +∞).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Absmax(ReadOnlySpan<float> values)
    {
        ReadOnlySpan<uint> bits = MemoryMarshal.Cast<float, uint>(values);
        int i = 0;
        uint max = 0;
        if (Vector512.IsHardwareAccelerated && bits.Length >= 64)
        {
            // Four accumulators (a block is 128 or 256 values), folded to one vector, then one lane.
            Vector512<uint> mask = Vector512.Create(0x7FFF_FFFFu);
            Vector512<uint> a = Vector512<uint>.Zero, b = a, c = a, d = a;
            ref uint first = ref MemoryMarshal.GetReference(bits);
            for (; i <= bits.Length - 64; i += 64)
            {
                a = Vector512.Max(a, Vector512.LoadUnsafe(ref first, (nuint)i) & mask);
                b = Vector512.Max(b, Vector512.LoadUnsafe(ref first, (nuint)i + 16) & mask);
                c = Vector512.Max(c, Vector512.LoadUnsafe(ref first, (nuint)i + 32) & mask);
                d = Vector512.Max(d, Vector512.LoadUnsafe(ref first, (nuint)i + 48) & mask);
            }

            for (; i <= bits.Length - 16; i += 16)
            {
                a = Vector512.Max(a, Vector512.LoadUnsafe(ref first, (nuint)i) & mask);
            }

            Vector512<uint> all = Vector512.Max(Vector512.Max(a, b), Vector512.Max(c, d));
            Vector256<uint> half = Vector256.Max(all.GetLower(), all.GetUpper());
            Vector128<uint> quarter = Vector128.Max(half.GetLower(), half.GetUpper());
            quarter = Vector128.Max(quarter, Sse2.Shuffle(quarter, 0b_01_00_11_10));
            quarter = Vector128.Max(quarter, Sse2.Shuffle(quarter, 0b_10_11_00_01));
            max = quarter.ToScalar();
        }

        if (Vector256.IsHardwareAccelerated && bits.Length - i >= 8)
        {
            Vector256<uint> mask = Vector256.Create(0x7FFF_FFFFu);
            Vector256<uint> acc = Vector256<uint>.Zero;
            ref uint first = ref MemoryMarshal.GetReference(bits);
            for (; i <= bits.Length - 8; i += 8)
            {
                acc = Vector256.Max(acc, Vector256.LoadUnsafe(ref first, (nuint)i) & mask);
            }

            for (int k = 0; k < 8; k++)
            {
                max = Math.Max(max, acc.GetElement(k));
            }
        }

        for (; i < bits.Length; i++)
        {
            max = Math.Max(max, bits[i] & 0x7FFF_FFFF);
        }

        return BitConverter.UInt32BitsToSingle(max);
    }

    /// <summary>
    /// Quantizes <paramref name="values"/> (one block) against <paramref name="absmax"/> (their <see cref="Absmax"/>):
    /// each value times 1/absmax (0 when absmax is 0), then <see cref="BlockwiseCodebook.Quantize"/>; a block whose absmax
    /// is NaN gets codes 0 (it dequantizes to NaN whatever its codes). Any length (the state's blocks have 256 or 128).
    /// </summary>
    /// <param name="book">The codebook.</param>
    /// <param name="values">The block's values.</param>
    /// <param name="absmax">The block's absmax.</param>
    /// <param name="codes">The block's first code byte.</param>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Quantize(BlockwiseCodebook book, ReadOnlySpan<float> values, float absmax, ref byte codes) =>
        Quantize(book, values, absmax, ref codes, BlockwisePath.Best);

    /// <summary>
    /// The block's codes on <paramref name="path"/> (for tests and the benchmark's breakdown, which reach it by
    /// reflection: the runtime's internals are not visible to assemblies that run the generator themselves).
    /// </summary>
    internal static byte[] QuantizeOn(BlockwiseCodebook book, float[] values, float absmax, BlockwisePath path)
    {
        byte[] codes = new byte[Math.Max(1, CodeBytes(values.Length, book.Bits))];
        Quantize(book, values, absmax, ref codes[0], path);
        return codes.AsSpan(0, (int)CodeBytes(values.Length, book.Bits)).ToArray();
    }

    /// <summary>
    /// One piece of the fused step over every block of <paramref name="values"/> (the benchmark's breakdown, by
    /// reflection; no allocation): 0 dequantize the codes into the values, 1 the blocks' absmax, 2 quantize the
    /// values against <paramref name="absmax"/>, each on <paramref name="path"/> (a <see cref="BlockwisePath"/>).
    /// </summary>
    internal static void RunPieceOverBlocks(BlockwiseCodebook book, float[] values, byte[] codes, float[] absmax, int piece, int path)
    {
        int n = book.BlockLength;
        if (piece >= 3)
        {
            // 3: the driver's chunk dequantization over chunks of 512 values (8-bit Adam's chunk).
            int blocks = 512 / n;
            for (int b = 0; b + blocks <= values.Length / n; b += blocks)
            {
                ref byte code = ref codes[CodeBytes((long)b * n, book.Bits)];
                if (piece == 3)
                {
                    DequantizeBlocks(book, ref code, absmax.AsSpan(b, blocks), values.AsSpan(b * n, blocks * n));
                }

            }

            return;
        }

        for (int b = 0; b < values.Length / n; b++)
        {
            ref byte code = ref codes[CodeBytes((long)b * n, book.Bits)];
            Span<float> block = values.AsSpan(b * n, n);
            switch (piece)
            {
                case 0:
                    Dequantize(book, ref code, absmax[b], block, (BlockwisePath)path);
                    break;
                case 1:
                    absmax[b] = Absmax(block);
                    break;
                default:
                    Quantize(book, block, absmax[b], ref code, (BlockwisePath)path);
                    break;
            }
        }
    }

    /// <summary>The values of whole blocks of codes, block b by <paramref name="absmax"/>[b], through the driver's <see cref="DequantizeBlocks"/> (for tests, as <see cref="QuantizeOn"/>).</summary>
    internal static float[] DequantizeBlocksOn(BlockwiseCodebook book, byte[] codes, float[] absmax)
    {
        float[] values = new float[absmax.Length * book.BlockLength];
        DequantizeBlocks(book, ref codes[0], absmax, values);
        return values;
    }

    /// <summary>The values of <paramref name="length"/> codes on <paramref name="path"/> (as <see cref="QuantizeOn"/>).</summary>
    internal static float[] DequantizeOn(BlockwiseCodebook book, byte[] codes, int length, float absmax, BlockwisePath path)
    {
        float[] values = new float[length];
        Dequantize(book, ref codes[0], absmax, values, path);
        return values;
    }

    /// <summary>
    /// The factor a block's values are multiplied by before their codes are looked up: 1/absmax, and 0 for an absmax of
    /// 0 (an all-zero block). A block whose absmax is NaN is not quantized at all: its codes are all 0 (see
    /// <see cref="Quantize(BlockwiseCodebook, ReadOnlySpan{float}, float, ref byte, BlockwisePath)"/>). The CPU paths
    /// and the GPU kernel (<c>GpuBlockwise</c>) both call this.
    /// </summary>
    internal static float ScaleOf(float absmax) => absmax == 0f ? 0f : 1f / absmax;

    /// <summary><see cref="Quantize(BlockwiseCodebook, ReadOnlySpan{float}, float, ref byte)"/> on the given path (tests force each one; all give the same codes).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void Quantize(BlockwiseCodebook book, ReadOnlySpan<float> values, float absmax, ref byte codes, BlockwisePath path)
    {
        int n = values.Length;
        if (float.IsNaN(absmax))
        {
            // A block holding NaN dequantizes to NaN whatever its codes are; its codes are all 0, so that they do not
            // depend on the signs of the NaNs (which differ between the SIMD kernel, ILGPU and a GPU) and every CPU
            // path and the GPU kernel (GpuBlockwise) store the same bytes.
            Unsafe.InitBlockUnaligned(ref codes, 0, (uint)(book.Bits == 8 ? n : (n + 1) >> 1));
            return;
        }

        float scale = ScaleOf(absmax);
        int i = 0;
        if (path <= BlockwisePath.Avx512 && Avx512F.IsSupported)
        {
            i = QuantizeAvx512(book, values, scale, ref codes, path);
        }
        else if (path <= BlockwisePath.Avx2 && Avx2.IsSupported)
        {
            i = QuantizeAvx2(book, values, scale, ref codes);
        }

        if (book.Bits == 8)
        {
            for (; i < n; i++)
            {
                Unsafe.Add(ref codes, i) = (byte)book.Quantize(values[i] * scale);
            }

            return;
        }

        // i is even here (the SIMD path takes 8 at a time).
        for (; i + 1 < n; i += 2)
        {
            int high = book.Quantize(values[i] * scale);
            int low = book.Quantize(values[i + 1] * scale);
            Unsafe.Add(ref codes, i >> 1) = (byte)((high << 4) | low);
        }

        if (i < n)
        {
            Unsafe.Add(ref codes, i >> 1) = (byte)(book.Quantize(values[i] * scale) << 4);
        }
    }

    /// <summary>
    /// <see cref="BlockwiseCodebook.Quantize"/> eight values at a time (the same bucket table and sign fix, so the same
    /// codes): the bucket from the float's bits, one gather of its code and threshold key, one compare.
    /// Returns how many values it quantized (a multiple of 8).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe int QuantizeAvx2(BlockwiseCodebook book, ReadOnlySpan<float> values, float scale, ref byte codes)
    {
        int* buckets = (int*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(book.Buckets));
        Vector256<float> factor = Vector256.Create(scale);
        Vector256<uint> clamp = Vector256.Create(BlockwiseCodebook.Clamp);
        Vector256<int> minimumExponent = Vector256.Create(book.MinimumExponent);
        Vector256<uint> minimumBits = Vector256.Create((uint)book.MinimumExponent << 23);
        Vector256<int> perSign = Vector256.Create(book.BucketsPerSign);
        Vector256<int> keyMask = Vector256.Create((int)book.KeyMask);
        int shift = 23 - book.MantissaBits;
        bool keepSign = book.KeepsSign;
        Vector256<int> zeroCode = Vector256.Create(book.ZeroCode);
        ref float first = ref MemoryMarshal.GetReference(values);
        int i = 0;
        for (; i + 8 <= values.Length; i += 8)
        {
            Vector256<float> x = Vector256.LoadUnsafe(ref first, (nuint)i) * factor;
            Vector256<uint> bits = x.AsUInt32();
            Vector256<uint> magnitude = Vector256.Min(bits & Vector256.Create(0x7FFF_FFFFu), clamp);
            Vector256<int> small = Vector256.LessThan((magnitude >> 23).AsInt32(), minimumExponent);
            Vector256<int> bucket = Vector256.AndNot(((magnitude - minimumBits) >> shift).AsInt32() + Vector256<int>.One, small);
            Vector256<int> negative = bits.AsInt32() >> 31;
            bucket += perSign & negative;
            Vector256<int> entry = Avx2.GatherVector256(buckets, bucket, 4);
            Vector256<int> key = (magnitude.AsInt32() & keyMask) ^ (keyMask & negative);
            Vector256<int> code = (entry.AsUInt32() >> 24).AsInt32() - Vector256.GreaterThanOrEqual(key, entry & Vector256.Create(0xFF_FFFF));
            if (keepSign)
            {
                // A negative value (−0 included, NaN excluded) rounded to the 0 code takes the next code down.
                Vector256<int> fix = Vector256.Equals(code, zeroCode) & negative & Vector256.Equals(x, x).AsInt32();
                code += fix;
            }

            Vector128<short> words = Vector256.Narrow(code, code).GetLower();
            Vector128<byte> bytes = Vector128.Narrow(words.AsUInt16(), words.AsUInt16());
            if (book.Bits == 8)
            {
                Unsafe.WriteUnaligned(ref Unsafe.Add(ref codes, i), bytes.AsUInt64().ToScalar());
            }
            else
            {
                // Pairs (even, odd) → (even << 4) | odd.
                Vector128<ushort> pairs = bytes.AsUInt16();
                Vector128<ushort> packed = ((pairs << 4) | (pairs >> 8)) & Vector128.Create((ushort)0xFF);
                Vector128<byte> four = Vector128.Narrow(packed, packed);
                Unsafe.WriteUnaligned(ref Unsafe.Add(ref codes, i >> 1), four.AsUInt32().ToScalar());
            }
        }

        return i;
    }

    /// <summary>
    /// <see cref="Dequantize(BlockwiseCodebook, ref byte, float, Span{float})"/> sixteen codes at a time with no gather: the code table lives in registers (8-bit: 16
    /// registers, two-source permutes over each pair, then a select tree on the code's top three bits; 4-bit: one
    /// permute). Returns how many values it wrote (a multiple of 16).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int DequantizeAvx512(BlockwiseCodebook book, ref byte codes, float absmax, Span<float> values, BlockwisePath path)
    {
        ref float table = ref MemoryMarshal.GetArrayDataReference(book.ValueTable);
        ref float first = ref MemoryMarshal.GetReference(values);
        Vector512<float> scale = Vector512.Create(absmax);
        int i = 0;
        if (book.Bits == 4)
        {
            Vector512<float> map = Vector512.LoadUnsafe(ref table);
            for (; i + 16 <= values.Length; i += 16)
            {
                // Eight bytes hold sixteen codes, the even element in the high nibble: one byte per 64-bit lane,
                // spread to (high nibble, low nibble) as two 32-bit indices.
                Vector512<ulong> bytes = Avx512F.ConvertToVector512UInt64(Vector128.CreateScalarUnsafe(Unsafe.ReadUnaligned<ulong>(ref Unsafe.Add(ref codes, i >> 1))).AsByte());
                Vector512<int> index = ((bytes >> 4) | ((bytes & Vector512.Create(0xFUL)) << 32)).AsInt32();
                (Avx512F.PermuteVar16x32(map, index) * scale).StoreUnsafe(ref first, (nuint)i);
            }

            return i;
        }

        if (path == BlockwisePath.Best && Avx512Vbmi.IsSupported)
        {
            i = DequantizeBytePlanes(book, ref codes, ref absmax, 31, ref first, values.Length);
            if (i + 16 > values.Length)
            {
                return i; // a whole block: the float tables below are not needed
            }
        }

        Vector512<float> t0 = Vector512.LoadUnsafe(ref table, 0), t1 = Vector512.LoadUnsafe(ref table, 16);
        Vector512<float> t2 = Vector512.LoadUnsafe(ref table, 32), t3 = Vector512.LoadUnsafe(ref table, 48);
        Vector512<float> t4 = Vector512.LoadUnsafe(ref table, 64), t5 = Vector512.LoadUnsafe(ref table, 80);
        Vector512<float> t6 = Vector512.LoadUnsafe(ref table, 96), t7 = Vector512.LoadUnsafe(ref table, 112);
        Vector512<float> t8 = Vector512.LoadUnsafe(ref table, 128), t9 = Vector512.LoadUnsafe(ref table, 144);
        Vector512<float> t10 = Vector512.LoadUnsafe(ref table, 160), t11 = Vector512.LoadUnsafe(ref table, 176);
        Vector512<float> t12 = Vector512.LoadUnsafe(ref table, 192), t13 = Vector512.LoadUnsafe(ref table, 208);
        Vector512<float> t14 = Vector512.LoadUnsafe(ref table, 224), t15 = Vector512.LoadUnsafe(ref table, 240);
        for (; i + 16 <= values.Length; i += 16)
        {
            Vector512<int> index = Avx512F.ConvertToVector512Int32(Vector128.LoadUnsafe(ref Unsafe.Add(ref codes, i)));
            Vector512<float> bit5 = Bit(index, 32), bit6 = Bit(index, 64), bit7 = Bit(index, 128);
            Vector512<float> low = Vector512.ConditionalSelect(
                bit6,
                Vector512.ConditionalSelect(bit5, Avx512F.PermuteVar16x32x2(t6, index, t7), Avx512F.PermuteVar16x32x2(t4, index, t5)),
                Vector512.ConditionalSelect(bit5, Avx512F.PermuteVar16x32x2(t2, index, t3), Avx512F.PermuteVar16x32x2(t0, index, t1)));
            Vector512<float> high = Vector512.ConditionalSelect(
                bit6,
                Vector512.ConditionalSelect(bit5, Avx512F.PermuteVar16x32x2(t14, index, t15), Avx512F.PermuteVar16x32x2(t12, index, t13)),
                Vector512.ConditionalSelect(bit5, Avx512F.PermuteVar16x32x2(t10, index, t11), Avx512F.PermuteVar16x32x2(t8, index, t9)));
            (Vector512.ConditionalSelect(bit7, high, low) * scale).StoreUnsafe(ref first, (nuint)i);
        }

        return i;
    }

    /// <summary>
    /// 8-bit dequantization 64 codes at a time by byte permutes: each of the four bytes of the code values is a
    /// 256-byte plane in four registers, looked up with two two-source byte permutes (the code's low seven bits) and
    /// a blend on its top bit; the four byte vectors are interleaved into sixteen-float vectors by unpacks, which
    /// work within 128-bit lanes, so the codes are first permuted into the order the unpacks undo. Value i is scaled
    /// by absmax[i &gt;&gt; <paramref name="shift"/>] (one block: a shift of 31). Returns how many values it wrote (a
    /// multiple of 64).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int DequantizeBytePlanes(BlockwiseCodebook book, ref byte codes, ref float absmax, int shift, ref float first, int length)
    {
        ref byte planes = ref MemoryMarshal.GetArrayDataReference(book.BytePlanes);
        Vector512<byte> a0 = Vector512.LoadUnsafe(ref planes, 0), a1 = Vector512.LoadUnsafe(ref planes, 64), a2 = Vector512.LoadUnsafe(ref planes, 128), a3 = Vector512.LoadUnsafe(ref planes, 192);
        Vector512<byte> b0 = Vector512.LoadUnsafe(ref planes, 256), b1 = Vector512.LoadUnsafe(ref planes, 320), b2 = Vector512.LoadUnsafe(ref planes, 384), b3 = Vector512.LoadUnsafe(ref planes, 448);
        Vector512<byte> c0 = Vector512.LoadUnsafe(ref planes, 512), c1 = Vector512.LoadUnsafe(ref planes, 576), c2 = Vector512.LoadUnsafe(ref planes, 640), c3 = Vector512.LoadUnsafe(ref planes, 704);
        Vector512<byte> d0 = Vector512.LoadUnsafe(ref planes, 768), d1 = Vector512.LoadUnsafe(ref planes, 832), d2 = Vector512.LoadUnsafe(ref planes, 896), d3 = Vector512.LoadUnsafe(ref planes, 960);

        // Byte 16·L + 4·q + k of the permuted codes (128-bit lane L) is code 16·q + 4·L + k: after the unpacks,
        // float vector q holds codes 16·q … 16·q + 15 in order.
        Vector512<byte> order = Vector512.Create(
            (byte)0, 1, 2, 3, 16, 17, 18, 19, 32, 33, 34, 35, 48, 49, 50, 51,
            4, 5, 6, 7, 20, 21, 22, 23, 36, 37, 38, 39, 52, 53, 54, 55,
            8, 9, 10, 11, 24, 25, 26, 27, 40, 41, 42, 43, 56, 57, 58, 59,
            12, 13, 14, 15, 28, 29, 30, 31, 44, 45, 46, 47, 60, 61, 62, 63);
        int i = 0;
        for (; i + 64 <= length; i += 64)
        {
            Vector512<float> scale = Vector512.Create(Unsafe.Add(ref absmax, i >> shift));
            Vector512<byte> code = Avx512Vbmi.PermuteVar64x8(Vector512.LoadUnsafe(ref Unsafe.Add(ref codes, i)), order);
            Vector512<byte> byte0 = Avx512BW.BlendVariable(Avx512Vbmi.PermuteVar64x8x2(a0, code, a1), Avx512Vbmi.PermuteVar64x8x2(a2, code, a3), code);
            Vector512<byte> byte1 = Avx512BW.BlendVariable(Avx512Vbmi.PermuteVar64x8x2(b0, code, b1), Avx512Vbmi.PermuteVar64x8x2(b2, code, b3), code);
            Vector512<byte> byte2 = Avx512BW.BlendVariable(Avx512Vbmi.PermuteVar64x8x2(c0, code, c1), Avx512Vbmi.PermuteVar64x8x2(c2, code, c3), code);
            Vector512<byte> byte3 = Avx512BW.BlendVariable(Avx512Vbmi.PermuteVar64x8x2(d0, code, d1), Avx512Vbmi.PermuteVar64x8x2(d2, code, d3), code);
            Vector512<ushort> low01 = Avx512BW.UnpackLow(byte0, byte1).AsUInt16(), high01 = Avx512BW.UnpackHigh(byte0, byte1).AsUInt16();
            Vector512<ushort> low23 = Avx512BW.UnpackLow(byte2, byte3).AsUInt16(), high23 = Avx512BW.UnpackHigh(byte2, byte3).AsUInt16();
            (Avx512BW.UnpackLow(low01, low23).AsSingle() * scale).StoreUnsafe(ref first, (nuint)i);
            (Avx512BW.UnpackHigh(low01, low23).AsSingle() * scale).StoreUnsafe(ref first, (nuint)(i + 16));
            (Avx512BW.UnpackLow(high01, high23).AsSingle() * scale).StoreUnsafe(ref first, (nuint)(i + 32));
            (Avx512BW.UnpackHigh(high01, high23).AsSingle() * scale).StoreUnsafe(ref first, (nuint)(i + 48));
        }

        return i;
    }

    /// <summary>All ones in the lanes of <paramref name="index"/> where <paramref name="bit"/> is set.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Bit(Vector512<int> index, int bit) =>
        Vector512.Equals(index & Vector512.Create(bit), Vector512.Create(bit)).AsSingle();

    /// <summary>
    /// <see cref="BlockwiseCodebook.Quantize"/> sixteen values at a time with no gather: the code is the number of
    /// decision thresholds ≤ the value (<see cref="BlockwiseCodebook.QuantizeByRank"/>, checked against the definition
    /// when the codebook is built), found by a branch-free binary search whose levels are register permutes of
    /// <see cref="BlockwiseCodebook.RankTable"/>, indexed by the bits decided so far in reverse order (no shifts);
    /// the same magnitude clamp and sign fix as the scalar path, so the same codes. Returns how many values it
    /// quantized (a multiple of 16).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int QuantizeAvx512(BlockwiseCodebook book, ReadOnlySpan<float> values, float scale, ref byte codes, BlockwisePath path)
    {
        Vector512<float> factor = Vector512.Create(scale);
        if (book.Bits == 8)
        {
            if (path != BlockwisePath.Best || !book.HasLines || !Avx512BW.IsSupported)
            {
                return QuantizeSearch8(book, values, factor, ref codes);
            }

            // QuantizeLines marks its ambiguous groups of 64 in one 64-bit word: at most 4096 values per call.
            int done = 0;
            while (done < values.Length)
            {
                int take = Math.Min(values.Length - done, 64 * 64);
                int quantized = QuantizeLines(book, values.Slice(done, take), factor, ref Unsafe.Add(ref codes, done));
                done += quantized;
                if (quantized < take)
                {
                    break;
                }
            }

            return done;
        }

        ref float rank = ref MemoryMarshal.GetArrayDataReference(book.RankTable);
        ref float first = ref MemoryMarshal.GetReference(values);
        int i = 0;
        if (path == BlockwisePath.Best && Avx512Vbmi.IsSupported)
        {
            i = book.HasLinearRule
                ? QuantizeNibbles(book, values, factor, ref codes, linear: true)
                : QuantizeNibbles(book, values, factor, ref codes, linear: false);
        }

        {
            // The sign fix is 8-bit only; the reversed 4-bit code back in order by one permute.
            Vector512<int> reverse4 = Vector512.Create(0, 8, 4, 12, 2, 10, 6, 14, 1, 9, 5, 13, 3, 11, 7, 15);
            Vector512<float> s8 = Vector512.Create(rank);
            Vector512<float> s4 = Vector512.LoadUnsafe(ref rank, 16), s2 = Vector512.LoadUnsafe(ref rank, 32), s1 = Vector512.LoadUnsafe(ref rank, 48);
            // Four independent searches per iteration, as in the 8-bit loop below.
            for (; i + 64 <= values.Length; i += 64)
            {
                Vector512<float> xa = Clamped(Vector512.LoadUnsafe(ref first, (nuint)(i + 0)) * factor);
                Vector512<float> xb = Clamped(Vector512.LoadUnsafe(ref first, (nuint)(i + 16)) * factor);
                Vector512<float> xc = Clamped(Vector512.LoadUnsafe(ref first, (nuint)(i + 32)) * factor);
                Vector512<float> xd = Clamped(Vector512.LoadUnsafe(ref first, (nuint)(i + 48)) * factor);
                Vector512<int> ra = Step(xa, s8, 1);
                Vector512<int> rb = Step(xb, s8, 1);
                Vector512<int> rc = Step(xc, s8, 1);
                Vector512<int> rd = Step(xd, s8, 1);
                ra = Next(xa, ra, Avx512F.PermuteVar16x32(s4, ra), 2);
                rb = Next(xb, rb, Avx512F.PermuteVar16x32(s4, rb), 2);
                rc = Next(xc, rc, Avx512F.PermuteVar16x32(s4, rc), 2);
                rd = Next(xd, rd, Avx512F.PermuteVar16x32(s4, rd), 2);
                ra = Next(xa, ra, Avx512F.PermuteVar16x32(s2, ra), 4);
                rb = Next(xb, rb, Avx512F.PermuteVar16x32(s2, rb), 4);
                rc = Next(xc, rc, Avx512F.PermuteVar16x32(s2, rc), 4);
                rd = Next(xd, rd, Avx512F.PermuteVar16x32(s2, rd), 4);
                ra = Next(xa, ra, Avx512F.PermuteVar16x32(s1, ra), 8);
                rb = Next(xb, rb, Avx512F.PermuteVar16x32(s1, rb), 8);
                rc = Next(xc, rc, Avx512F.PermuteVar16x32(s1, rc), 8);
                rd = Next(xd, rd, Avx512F.PermuteVar16x32(s1, rd), 8);
                Unsafe.WriteUnaligned(ref Unsafe.Add(ref codes, (i + 0) >> 1), Packed4(Avx512F.PermuteVar16x32(reverse4, ra)));
                Unsafe.WriteUnaligned(ref Unsafe.Add(ref codes, (i + 16) >> 1), Packed4(Avx512F.PermuteVar16x32(reverse4, rb)));
                Unsafe.WriteUnaligned(ref Unsafe.Add(ref codes, (i + 32) >> 1), Packed4(Avx512F.PermuteVar16x32(reverse4, rc)));
                Unsafe.WriteUnaligned(ref Unsafe.Add(ref codes, (i + 48) >> 1), Packed4(Avx512F.PermuteVar16x32(reverse4, rd)));
            }

            for (; i + 16 <= values.Length; i += 16)
            {
                Vector512<float> x = Clamped(Vector512.LoadUnsafe(ref first, (nuint)i) * factor);
                Vector512<int> r = Step(x, s8, 1);
                r = Next(x, r, Avx512F.PermuteVar16x32(s4, r), 2);
                r = Next(x, r, Avx512F.PermuteVar16x32(s2, r), 4);
                r = Next(x, r, Avx512F.PermuteVar16x32(s1, r), 8);

                Unsafe.WriteUnaligned(ref Unsafe.Add(ref codes, i >> 1), Packed4(Avx512F.PermuteVar16x32(reverse4, r)));
            }

            return i;
        }
    }

    /// <summary>
    /// 4-bit codes sixty-four at a time, packed by byte operations (VBMI): the codes of four vectors by the linear rule
    /// of <see cref="BlockwiseCodebook.QuantizeByLinearRule"/> (the unsigned map: an int clamp, one multiply-add, a
    /// conversion and a min) or by the search (the signed map), then <see cref="Nibbles"/>. Returns how many values it
    /// quantized (a multiple of 64; the sixteen-value loop does the rest).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int QuantizeNibbles(BlockwiseCodebook book, ReadOnlySpan<float> values, Vector512<float> factor, ref byte codes, bool linear)
    {
        ref float rank = ref MemoryMarshal.GetArrayDataReference(book.RankTable);
        ref float first = ref MemoryMarshal.GetReference(values);
        Vector512<float> s8 = Vector512.Create(rank);
        Vector512<float> s4 = Vector512.LoadUnsafe(ref rank, 16), s2 = Vector512.LoadUnsafe(ref rank, 32), s1 = Vector512.LoadUnsafe(ref rank, 48);
        Vector512<float> scale = Vector512.Create(book.LinearScale);
        int i = 0;
        for (; i + 64 <= values.Length; i += 64)
        {
            Vector512<int> ca, cb, cc, cd;
            Vector512<float> xa = Vector512.LoadUnsafe(ref first, (nuint)(i + 0)) * factor;
            Vector512<float> xb = Vector512.LoadUnsafe(ref first, (nuint)(i + 16)) * factor;
            Vector512<float> xc = Vector512.LoadUnsafe(ref first, (nuint)(i + 32)) * factor;
            Vector512<float> xd = Vector512.LoadUnsafe(ref first, (nuint)(i + 48)) * factor;
            if (linear)
            {
                ca = Linear4(xa, scale);
                cb = Linear4(xb, scale);
                cc = Linear4(xc, scale);
                cd = Linear4(xd, scale);
            }
            else
            {
                xa = Clamped(xa);
                xb = Clamped(xb);
                xc = Clamped(xc);
                xd = Clamped(xd);
                ca = Step(xa, s8, 1);
                cb = Step(xb, s8, 1);
                cc = Step(xc, s8, 1);
                cd = Step(xd, s8, 1);
                ca = Next(xa, ca, Avx512F.PermuteVar16x32(s4, ca), 2);
                cb = Next(xb, cb, Avx512F.PermuteVar16x32(s4, cb), 2);
                cc = Next(xc, cc, Avx512F.PermuteVar16x32(s4, cc), 2);
                cd = Next(xd, cd, Avx512F.PermuteVar16x32(s4, cd), 2);
                ca = Next(xa, ca, Avx512F.PermuteVar16x32(s2, ca), 4);
                cb = Next(xb, cb, Avx512F.PermuteVar16x32(s2, cb), 4);
                cc = Next(xc, cc, Avx512F.PermuteVar16x32(s2, cc), 4);
                cd = Next(xd, cd, Avx512F.PermuteVar16x32(s2, cd), 4);
                ca = Next(xa, ca, Avx512F.PermuteVar16x32(s1, ca), 8);
                cb = Next(xb, cb, Avx512F.PermuteVar16x32(s1, cb), 8);
                cc = Next(xc, cc, Avx512F.PermuteVar16x32(s1, cc), 8);
                cd = Next(xd, cd, Avx512F.PermuteVar16x32(s1, cd), 8);
            }

            Nibbles(ca, cb, cc, cd, reversed: !linear).StoreUnsafe(ref Unsafe.Add(ref codes, i >> 1));
        }

        return i;
    }

    /// <summary>Sixteen codes by the linear rule (<see cref="BlockwiseCodebook.QuantizeByLinearRule"/>, the same operations).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<int> Linear4(Vector512<float> x, Vector512<float> scale)
    {
        Vector512<float> clamped = Vector512.Min(Vector512.Max(x.AsInt32(), Vector512<int>.Zero), Vector512.Create((int)BlockwiseCodebook.Clamp)).AsSingle();
        Vector512<float> t = Avx512F.FusedMultiplyAdd(scale, clamped, Vector512.Create(-0.5f));
        return Vector512.Min(Avx512F.ConvertToVector512Int32WithTruncation(t), Vector512.Create(15));
    }

    /// <summary>
    /// Sixty-four 4-bit codes (four vectors of ints 0 … 15, in order; <paramref name="reversed"/>: with their four
    /// bits reversed, as the search leaves them) as thirty-two bytes, the even element in the high nibble: two
    /// saturating dword → word packs and one word → byte pack put each pair (even, odd) in adjacent bytes (byte
    /// 16·L + 4·q + k is element 4·L + k of vector q, within 128-bit lane L), a byte lookup reverses the bits where
    /// needed, one multiply-add of byte pairs makes the words 16·even + odd, and one byte permute gathers their low
    /// bytes in order.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<byte> Nibbles(Vector512<int> a, Vector512<int> b, Vector512<int> c, Vector512<int> d, bool reversed)
    {
        Vector512<ushort> ab = Avx512BW.PackUnsignedSaturate(a, b), cd = Avx512BW.PackUnsignedSaturate(c, d);
        Vector512<byte> packed = Avx512BW.PackUnsignedSaturate(ab.AsInt16(), cd.AsInt16());
        if (reversed)
        {
            packed = Avx512BW.Shuffle(Vector512.Create(Vector128.Create((byte)0, 8, 4, 12, 2, 10, 6, 14, 1, 9, 5, 13, 3, 11, 7, 15)), packed);
        }

        // Word 8·L + 2·q + h holds the pair (4·L + 2·h, 4·L + 2·h + 1) of vector q: output byte 8·q + 2·L + h.
        Vector512<short> pairs = Avx512BW.MultiplyAddAdjacent(packed, Vector512.Create((ushort)0x0110).AsSByte());
        Vector512<byte> order = Vector512.Create(
            (byte)0, 2, 16, 18, 32, 34, 48, 50, 4, 6, 20, 22, 36, 38, 52, 54,
            8, 10, 24, 26, 40, 42, 56, 58, 12, 14, 28, 30, 44, 46, 60, 62,
            0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
            0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
        return Avx512Vbmi.PermuteVar64x8(pairs.AsByte(), order).GetLower();
    }

    /// <summary>
    /// The 8-bit search of <see cref="QuantizeAvx512"/>: exact for every value, ~75 vector instructions per sixteen.
    /// The path for maps without code lines, and for the rare values the lines leave ambiguous.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static int QuantizeSearch8(BlockwiseCodebook book, ReadOnlySpan<float> values, Vector512<float> factor, ref byte codes)
    {
        ref float rank = ref MemoryMarshal.GetArrayDataReference(book.RankTable);
        ref float first = ref MemoryMarshal.GetReference(values);
        int i = 0;

        // The sign fix: a negative value whose code is the zero code takes the code below (in reversed bits here).
        Vector512<int> zero = Vector512.Create(book.KeepsSign ? BlockwiseCodebook.Reverse(book.ZeroCode, 8) : -1);
        Vector512<float> l1 = Vector512.Create(rank);
        Vector512<float> l2 = Vector512.LoadUnsafe(ref rank, 16), l3 = Vector512.LoadUnsafe(ref rank, 32);
        Vector512<float> l4 = Vector512.LoadUnsafe(ref rank, 48), l5 = Vector512.LoadUnsafe(ref rank, 64);
        Vector512<float> t1a = Vector512.LoadUnsafe(ref rank, 80), t1b = Vector512.LoadUnsafe(ref rank, 96);
        Vector512<float> t2a = Vector512.LoadUnsafe(ref rank, 112), t2b = Vector512.LoadUnsafe(ref rank, 128);
        Vector512<float> t3a = Vector512.LoadUnsafe(ref rank, 144), t3b = Vector512.LoadUnsafe(ref rank, 160);
        Vector512<float> t4a = Vector512.LoadUnsafe(ref rank, 176), t4b = Vector512.LoadUnsafe(ref rank, 192);
        Vector512<float> t5a = Vector512.LoadUnsafe(ref rank, 208), t5b = Vector512.LoadUnsafe(ref rank, 224);
        Vector512<float> t6a = Vector512.LoadUnsafe(ref rank, 240), t6b = Vector512.LoadUnsafe(ref rank, 256);
        Vector512<float> t7a = Vector512.LoadUnsafe(ref rank, 272), t7b = Vector512.LoadUnsafe(ref rank, 288);
        // Four independent searches per iteration, step by step: each step waits on the one before (permute,
        // compare, add), so one search at a time would leave the core idle on latency.
        for (; i + 64 <= values.Length; i += 64)
        {
            Vector512<float> va = Vector512.LoadUnsafe(ref first, (nuint)(i + 0)) * factor;
            Vector512<float> vb = Vector512.LoadUnsafe(ref first, (nuint)(i + 16)) * factor;
            Vector512<float> vc = Vector512.LoadUnsafe(ref first, (nuint)(i + 32)) * factor;
            Vector512<float> vd = Vector512.LoadUnsafe(ref first, (nuint)(i + 48)) * factor;
            Vector512<float> xa = Clamped(va);
            Vector512<float> xb = Clamped(vb);
            Vector512<float> xc = Clamped(vc);
            Vector512<float> xd = Clamped(vd);
            Vector512<int> ra = Step(xa, l1, 1);
            Vector512<int> rb = Step(xb, l1, 1);
            Vector512<int> rc = Step(xc, l1, 1);
            Vector512<int> rd = Step(xd, l1, 1);
            ra = Next(xa, ra, Avx512F.PermuteVar16x32(l2, ra), 2);
            rb = Next(xb, rb, Avx512F.PermuteVar16x32(l2, rb), 2);
            rc = Next(xc, rc, Avx512F.PermuteVar16x32(l2, rc), 2);
            rd = Next(xd, rd, Avx512F.PermuteVar16x32(l2, rd), 2);
            ra = Next(xa, ra, Avx512F.PermuteVar16x32(l3, ra), 4);
            rb = Next(xb, rb, Avx512F.PermuteVar16x32(l3, rb), 4);
            rc = Next(xc, rc, Avx512F.PermuteVar16x32(l3, rc), 4);
            rd = Next(xd, rd, Avx512F.PermuteVar16x32(l3, rd), 4);
            ra = Next(xa, ra, Avx512F.PermuteVar16x32(l4, ra), 8);
            rb = Next(xb, rb, Avx512F.PermuteVar16x32(l4, rb), 8);
            rc = Next(xc, rc, Avx512F.PermuteVar16x32(l4, rc), 8);
            rd = Next(xd, rd, Avx512F.PermuteVar16x32(l4, rd), 8);
            ra = Next(xa, ra, Avx512F.PermuteVar16x32(l5, ra), 16);
            rb = Next(xb, rb, Avx512F.PermuteVar16x32(l5, rb), 16);
            rc = Next(xc, rc, Avx512F.PermuteVar16x32(l5, rc), 16);
            rd = Next(xd, rd, Avx512F.PermuteVar16x32(l5, rd), 16);
            Vector512<float> m6a = Vector512.GreaterThanOrEqual(xa, Avx512F.PermuteVar16x32x2(t4a, ra, t4b));
            Vector512<float> m6b = Vector512.GreaterThanOrEqual(xb, Avx512F.PermuteVar16x32x2(t4a, rb, t4b));
            Vector512<float> m6c = Vector512.GreaterThanOrEqual(xc, Avx512F.PermuteVar16x32x2(t4a, rc, t4b));
            Vector512<float> m6d = Vector512.GreaterThanOrEqual(xd, Avx512F.PermuteVar16x32x2(t4a, rd, t4b));
            Vector512<float> m7a = Vector512.GreaterThanOrEqual(xa, Vector512.ConditionalSelect(m6a, Avx512F.PermuteVar16x32x2(t6a, ra, t6b), Avx512F.PermuteVar16x32x2(t2a, ra, t2b)));
            Vector512<float> m7b = Vector512.GreaterThanOrEqual(xb, Vector512.ConditionalSelect(m6b, Avx512F.PermuteVar16x32x2(t6a, rb, t6b), Avx512F.PermuteVar16x32x2(t2a, rb, t2b)));
            Vector512<float> m7c = Vector512.GreaterThanOrEqual(xc, Vector512.ConditionalSelect(m6c, Avx512F.PermuteVar16x32x2(t6a, rc, t6b), Avx512F.PermuteVar16x32x2(t2a, rc, t2b)));
            Vector512<float> m7d = Vector512.GreaterThanOrEqual(xd, Vector512.ConditionalSelect(m6d, Avx512F.PermuteVar16x32x2(t6a, rd, t6b), Avx512F.PermuteVar16x32x2(t2a, rd, t2b)));
            Vector512<float> lowa = Vector512.ConditionalSelect(m7a, Avx512F.PermuteVar16x32x2(t3a, ra, t3b), Avx512F.PermuteVar16x32x2(t1a, ra, t1b));
            Vector512<float> higha = Vector512.ConditionalSelect(m7a, Avx512F.PermuteVar16x32x2(t7a, ra, t7b), Avx512F.PermuteVar16x32x2(t5a, ra, t5b));
            Vector512<float> lowb = Vector512.ConditionalSelect(m7b, Avx512F.PermuteVar16x32x2(t3a, rb, t3b), Avx512F.PermuteVar16x32x2(t1a, rb, t1b));
            Vector512<float> highb = Vector512.ConditionalSelect(m7b, Avx512F.PermuteVar16x32x2(t7a, rb, t7b), Avx512F.PermuteVar16x32x2(t5a, rb, t5b));
            Vector512<float> lowc = Vector512.ConditionalSelect(m7c, Avx512F.PermuteVar16x32x2(t3a, rc, t3b), Avx512F.PermuteVar16x32x2(t1a, rc, t1b));
            Vector512<float> highc = Vector512.ConditionalSelect(m7c, Avx512F.PermuteVar16x32x2(t7a, rc, t7b), Avx512F.PermuteVar16x32x2(t5a, rc, t5b));
            Vector512<float> lowd = Vector512.ConditionalSelect(m7d, Avx512F.PermuteVar16x32x2(t3a, rd, t3b), Avx512F.PermuteVar16x32x2(t1a, rd, t1b));
            Vector512<float> highd = Vector512.ConditionalSelect(m7d, Avx512F.PermuteVar16x32x2(t7a, rd, t7b), Avx512F.PermuteVar16x32x2(t5a, rd, t5b));
            Vector512<float> m8a = Vector512.GreaterThanOrEqual(xa, Vector512.ConditionalSelect(m6a, higha, lowa));
            Vector512<float> m8b = Vector512.GreaterThanOrEqual(xb, Vector512.ConditionalSelect(m6b, highb, lowb));
            Vector512<float> m8c = Vector512.GreaterThanOrEqual(xc, Vector512.ConditionalSelect(m6c, highc, lowc));
            Vector512<float> m8d = Vector512.GreaterThanOrEqual(xd, Vector512.ConditionalSelect(m6d, highd, lowd));
            Reversed(Tail(ra, m6a, m7a, m8a), va, zero).StoreUnsafe(ref Unsafe.Add(ref codes, i + 0));
            Reversed(Tail(rb, m6b, m7b, m8b), vb, zero).StoreUnsafe(ref Unsafe.Add(ref codes, i + 16));
            Reversed(Tail(rc, m6c, m7c, m8c), vc, zero).StoreUnsafe(ref Unsafe.Add(ref codes, i + 32));
            Reversed(Tail(rd, m6d, m7d, m8d), vd, zero).StoreUnsafe(ref Unsafe.Add(ref codes, i + 48));
        }

        for (; i + 16 <= values.Length; i += 16)
        {
            Vector512<float> v = Vector512.LoadUnsafe(ref first, (nuint)i) * factor;
            Vector512<float> x = Clamped(v);
            Vector512<int> r = Step(x, l1, 1);
            r = Next(x, r, Avx512F.PermuteVar16x32(l2, r), 2);
            r = Next(x, r, Avx512F.PermuteVar16x32(l3, r), 4);
            r = Next(x, r, Avx512F.PermuteVar16x32(l4, r), 8);
            r = Next(x, r, Avx512F.PermuteVar16x32(l5, r), 16);

            // The eight codes left: their seven thresholds by r, then three decisions, each choosing among them.
            Vector512<float> m6 = Vector512.GreaterThanOrEqual(x, Avx512F.PermuteVar16x32x2(t4a, r, t4b));
            Vector512<float> m7 = Vector512.GreaterThanOrEqual(x, Vector512.ConditionalSelect(m6, Avx512F.PermuteVar16x32x2(t6a, r, t6b), Avx512F.PermuteVar16x32x2(t2a, r, t2b)));
            Vector512<float> low = Vector512.ConditionalSelect(m7, Avx512F.PermuteVar16x32x2(t3a, r, t3b), Avx512F.PermuteVar16x32x2(t1a, r, t1b));
            Vector512<float> high = Vector512.ConditionalSelect(m7, Avx512F.PermuteVar16x32x2(t7a, r, t7b), Avx512F.PermuteVar16x32x2(t5a, r, t5b));
            Vector512<float> m8 = Vector512.GreaterThanOrEqual(x, Vector512.ConditionalSelect(m6, high, low));
            Reversed(Tail(r, m6, m7, m8), v, zero).StoreUnsafe(ref Unsafe.Add(ref codes, i));
        }

        return i;
    }

    /// <summary>
    /// 8-bit codes by the code lines of <see cref="BlockwiseCodebook"/> (see its Lines part): per sixteen values, the
    /// magnitude bits clamped as ints, the octave slot's entry by one permute, the line's table index by one add (the
    /// carry says whether y is below the slot's run start), then the biased line value w = fma(a, min(y, cap), b) with
    /// a, b, cap fetched by register permutes: sixteen vector instructions (an unsigned map's, which does no sign work,
    /// fourteen) against the search's 75. Sixty-four values per iteration: the code is bits 15 … 22 of w, gathered
    /// to bytes by two saturating packs and one byte permute (VBMI; without it a mask, three packs and a dword
    /// permute); where any of the sixty-four has w's fraction bits at most <see cref="BlockwiseCodebook.LineAmbiguity"/>
    /// (rare: near a decision threshold) they are redone by the exact search, so the codes are
    /// <see cref="BlockwiseCodebook.QuantizeByRank"/>'s, bit for bit. Returns how many values it quantized (a multiple
    /// of 64; the search does the rest).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int QuantizeLines(BlockwiseCodebook book, ReadOnlySpan<float> values, Vector512<float> factor, ref byte codes) =>
        book.IsSigned
            ? QuantizeLines(book, values, factor, ref codes, signed: true)
            : QuantizeLines(book, values, factor, ref codes, signed: false);

    /// <summary><see cref="QuantizeLines(BlockwiseCodebook, ReadOnlySpan{float}, Vector512{float}, ref byte)"/> for a map of the given signedness (a constant: the JIT compiles one loop per map kind).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int QuantizeLines(BlockwiseCodebook book, ReadOnlySpan<float> values, Vector512<float> factor, ref byte codes, bool signed)
    {
        ref uint entries = ref MemoryMarshal.GetArrayDataReference(book.SlotEntry);
        ref float slope = ref MemoryMarshal.GetArrayDataReference(book.LineSlope);
        ref float offset = ref MemoryMarshal.GetArrayDataReference(book.LineOffset);
        var t = new LineTables(
            Vector512.LoadUnsafe(ref entries), Vector512.LoadUnsafe(ref entries, 16),
            Vector512.LoadUnsafe(ref slope), Vector512.LoadUnsafe(ref slope, 16),
            Vector512.LoadUnsafe(ref offset), Vector512.LoadUnsafe(ref offset, 16),
            Vector512.LoadUnsafe(ref MemoryMarshal.GetArrayDataReference(signed ? book.LineCap : book.LineTop)));
        ref float first = ref MemoryMarshal.GetReference(values);
        Debug.Assert(values.Length <= 64 * 64, "one bit per 64 values");
        ulong redo = 0; // the groups of 64 with an ambiguous value, redone after the loop (a call inside it would spill the tables)
        int i = 0;
        for (; i + 64 <= values.Length; i += 64)
        {
            Vector512<uint> wa = LineValue(Vector512.LoadUnsafe(ref first, (nuint)(i + 0)) * factor, t, signed);
            Vector512<uint> wb = LineValue(Vector512.LoadUnsafe(ref first, (nuint)(i + 16)) * factor, t, signed);
            Vector512<uint> wc = LineValue(Vector512.LoadUnsafe(ref first, (nuint)(i + 32)) * factor, t, signed);
            Vector512<uint> wd = LineValue(Vector512.LoadUnsafe(ref first, (nuint)(i + 48)) * factor, t, signed);

            // The least fraction (w's low 15 bits) of the 64 values: ambiguous when at most LineAmbiguity.
            Vector512<uint> fraction = Vector512.Create(0x7FFFu);
            Vector512<uint> least = Vector512.Min(Vector512.Min(wa & fraction, wb & fraction), Vector512.Min(wc & fraction, wd & fraction));
            redo |= (Vector512.GreaterThanAll(least, Vector512.Create(BlockwiseCodebook.LineAmbiguity)) ? 0UL : 1UL) << (i >> 6);
            LineBytes(wa, wb, wc, wd).StoreUnsafe(ref Unsafe.Add(ref codes, i));
        }

        for (; redo != 0; redo &= redo - 1)
        {
            int start = BitOperations.TrailingZeroCount(redo) << 6;
            QuantizeSearch8(book, values.Slice(start, 64), factor, ref Unsafe.Add(ref codes, start));
        }

        return i;
    }

    /// <summary>
    /// The codes of sixty-four biased line values (four vectors in order) as sixty-four bytes in order. w &gt;&gt; 15 is
    /// 0x8700 + code: two saturating dword → word packs keep it (each works within 128-bit lanes: word 8·L + j of
    /// the first pack is element 4·L + j of a for j &lt; 4, of b for j ≥ 4), and one two-source byte permute takes
    /// the words' low bytes in element order. Without VBMI: the codes masked to bytes, then <see cref="Bytes"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<byte> LineBytes(Vector512<uint> a, Vector512<uint> b, Vector512<uint> c, Vector512<uint> d)
    {
        if (!Avx512Vbmi.IsSupported)
        {
            Vector512<uint> mask = Vector512.Create(0xFFu);
            return Bytes(((a >> 15) & mask).AsInt32(), ((b >> 15) & mask).AsInt32(), ((c >> 15) & mask).AsInt32(), ((d >> 15) & mask).AsInt32());
        }

        Vector512<ushort> ab = Avx512BW.PackUnsignedSaturate((a >> 15).AsInt32(), (b >> 15).AsInt32());
        Vector512<ushort> cd = Avx512BW.PackUnsignedSaturate((c >> 15).AsInt32(), (d >> 15).AsInt32());
        Vector512<byte> order = Vector512.Create(
            (byte)0, 2, 4, 6, 16, 18, 20, 22, 32, 34, 36, 38, 48, 50, 52, 54,
            8, 10, 12, 14, 24, 26, 28, 30, 40, 42, 44, 46, 56, 58, 60, 62,
            64, 66, 68, 70, 80, 82, 84, 86, 96, 98, 100, 102, 112, 114, 116, 118,
            72, 74, 76, 78, 88, 90, 92, 94, 104, 106, 108, 110, 120, 122, 124, 126);
        return Avx512Vbmi.PermuteVar64x8x2(ab.AsByte(), order, cd.AsByte());
    }

    /// <summary>
    /// Sixty-four codes (0 … 255, four vectors in order) as sixty-four bytes in order: two saturating dword → word
    /// packs and one word → byte pack (each works within 128-bit lanes, so byte 16·L + 4·q + k of the result is element
    /// 4·L + k of vector q), then one dword permute puts the four-byte groups in order.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<byte> Bytes(Vector512<int> a, Vector512<int> b, Vector512<int> c, Vector512<int> d)
    {
        Vector512<ushort> ab = Avx512BW.PackUnsignedSaturate(a, b), cd = Avx512BW.PackUnsignedSaturate(c, d);
        Vector512<byte> packed = Avx512BW.PackUnsignedSaturate(ab.AsInt16(), cd.AsInt16());
        return Avx512F.PermuteVar16x32(packed.AsInt32(), Vector512.Create(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15)).AsByte();
    }

    /// <summary>The register tables of <see cref="QuantizeLines(BlockwiseCodebook, ReadOnlySpan{float}, Vector512{float}, ref byte)"/> (pinned arrays of <see cref="BlockwiseCodebook"/>, 32 entries as two halves; Cap is the signed map's y cap or the unsigned map's w cap).</summary>
    [StructLayout(LayoutKind.Auto)]
    private readonly record struct LineTables(
        Vector512<uint> Entry0, Vector512<uint> Entry1,
        Vector512<float> Slope0, Vector512<float> Slope1,
        Vector512<float> Offset0, Vector512<float> Offset1,
        Vector512<float> Cap);

    /// <summary>
    /// The biased line values (bits) of sixteen values by <see cref="BlockwiseCodebook.QuantizeByLines"/>'s
    /// operations in its order. y is the magnitude bits clamped as ints to [2^−31, just below 2]; the slot entry
    /// (a signed map: per sign, by index bit 4, which y's exponent bits always set and a negative value's sign
    /// clears) plus ~y's low 24 bits is the line's table index in bits 24 … 28 (only the low five bits of an index
    /// count in a permute). An unsigned map clamps the value's bits as an int (negative values rise to 2^−31, whose
    /// code is theirs) and caps w instead of y.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<uint> LineValue(Vector512<float> x, in LineTables t, bool signed)
    {
        Vector512<int> floor = Vector512.Create(BlockwiseCodebook.LineFloorExponent << 23);
        Vector512<int> clamp = Vector512.Create((int)BlockwiseCodebook.Clamp);
        Vector512<uint> low = Vector512.Create(BlockwiseCodebook.SlotLow);
        Vector512<float> w;
        if (signed)
        {
            Vector512<uint> y = Vector512.Min(Vector512.Max((x.AsUInt32() & Vector512.Create(0x7FFF_FFFFu)).AsInt32(), floor), clamp).AsUInt32();
            // (y >> 24) ^ ((x >> 27) & 16): ternary logic A ^ (B & C) is 0x78.
            Vector512<uint> slot = Avx512F.TernaryLogic(y >> 24, x.AsUInt32() >> 27, Vector512.Create(16u), 0x78);
            Vector512<uint> entry = Avx512F.PermuteVar16x32x2(t.Entry1, slot, t.Entry0);
            Vector512<int> index = ((entry + Vector512.AndNot(low, y)) >> 24).AsInt32();
            w = Avx512F.FusedMultiplyAdd(
                Avx512F.PermuteVar16x32x2(t.Slope0, index, t.Slope1),
                Avx512F.Min(y.AsSingle(), Avx512F.PermuteVar16x32(t.Cap, index)),
                Avx512F.PermuteVar16x32x2(t.Offset0, index, t.Offset1));
        }
        else
        {
            Vector512<uint> y = Vector512.Min(Vector512.Max(x.AsInt32(), floor), clamp).AsUInt32();
            Vector512<uint> entry = Avx512F.PermuteVar16x32(t.Entry0, y >> 24);
            Vector512<int> index = ((entry + Vector512.AndNot(low, y)) >> 24).AsInt32();
            // vminps, not Vector512.Min (whose NaN and −0 rules cost two more instructions): w is never NaN here.
            w = Avx512F.Min(
                Avx512F.FusedMultiplyAdd(Avx512F.PermuteVar16x32(t.Slope0, index), y.AsSingle(), Avx512F.PermuteVar16x32(t.Offset0, index)),
                Avx512F.PermuteVar16x32(t.Cap, index));
        }

        return w.AsUInt32();
    }

    /// <summary>Sixteen 4-bit codes packed into eight bytes: the pair (even, odd) in each 64-bit lane becomes the byte 16·even + odd.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong Packed4(Vector512<int> code)
    {
        Vector512<ulong> pairs = code.AsUInt64();
        return Avx512F.ConvertToVector128Byte(((pairs << 4) | (pairs >> 32)) & Vector512.Create(0xFFUL)).AsUInt64().ToScalar();
    }

    /// <summary>The reversed code: the first five decisions <paramref name="r"/>, then the last three (all-ones lanes where taken).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<int> Tail(Vector512<int> r, Vector512<float> m6, Vector512<float> m7, Vector512<float> m8) =>
        r | (m6.AsInt32() & Vector512.Create(32)) | (m7.AsInt32() & Vector512.Create(64)) | (m8.AsInt32() & Vector512.Create(128));

    /// <summary>
    /// Sixteen 8-bit codes from their reversed bits <paramref name="r"/>, with the sign fix: a lane whose reversed
    /// code is <paramref name="zero"/> and whose value <paramref name="v"/> has its sign bit set takes the code below.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<byte> Reversed(Vector512<int> r, Vector512<float> v, Vector512<int> zero)
    {
        Vector128<byte> fix = Avx512F.ConvertToVector128Byte(Vector512.Equals(r, zero) & (v.AsInt32() >> 31));
        Vector128<byte> bytes = Avx512F.ConvertToVector128Byte(r);
        Vector128<byte> nibbles = Vector128.Create((byte)0, 8, 4, 12, 2, 10, 6, 14, 1, 9, 5, 13, 3, 11, 7, 15);
        Vector128<byte> low = Ssse3.Shuffle(nibbles, bytes & Vector128.Create((byte)0xF));
        Vector128<byte> high = Ssse3.Shuffle(nibbles, Sse2.ShiftRightLogical(bytes.AsUInt16(), 4).AsByte() & Vector128.Create((byte)0xF));
        return ((Sse2.ShiftLeftLogical(low.AsUInt16(), 4).AsByte() & Vector128.Create((byte)0xF0)) | high) + fix;
    }

    /// <summary>The value with its magnitude clamped below 2 (NaN and ±∞ too, as <see cref="BlockwiseCodebook.Quantize"/> does).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Clamped(Vector512<float> x)
    {
        Vector512<uint> bits = x.AsUInt32();
        Vector512<uint> magnitude = Vector512.Min(bits & Vector512.Create(0x7FFF_FFFFu), Vector512.Create(BlockwiseCodebook.Clamp));
        return (magnitude | (bits & Vector512.Create(0x8000_0000u))).AsSingle();
    }

    /// <summary><paramref name="code"/> plus <paramref name="step"/> in the lanes where x ≥ threshold.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<int> Next(Vector512<float> x, Vector512<int> code, Vector512<float> threshold, int step) =>
        Vector512.ConditionalSelect(Vector512.GreaterThanOrEqual(x, threshold).AsInt32(), code + Vector512.Create(step), code);

    /// <summary><paramref name="step"/> in the lanes where x ≥ threshold, else 0.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<int> Step(Vector512<float> x, Vector512<float> threshold, int step) =>
        Vector512.GreaterThanOrEqual(x, threshold).AsInt32() & Vector512.Create(step);
}

