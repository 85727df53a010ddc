using System;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace OptGen.Kernels;

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
    public static unsafe void Dequantize(BlockwiseCodebook book, ref byte codes, float absmax, Span<float> values)
    {
        int i = 0;
        if (Avx2.IsSupported)
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
    /// max |value| over <paramref name="values"/>, NaN when any value is NaN (computed on the magnitudes' bits, whose
    /// integer order is the float order, with NaN above +∞).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Absmax(ReadOnlySpan<float> values)
    {
        ReadOnlySpan<uint> bits = MemoryMarshal.Cast<float, uint>(values);
        int i = 0;
        uint max = 0;
        if (Vector256.IsHardwareAccelerated && bits.Length >= 8)
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
    /// each value times 1/absmax (0 when absmax is 0), then <see cref="BlockwiseCodebook.Quantize"/>.
    /// </summary>
    /// <param name="book">The codebook.</param>
    /// <param name="values">The block's values.</param>
    /// <param name="absmax">The block's absmax.</param>
    /// <param name="codes">The block's first code byte.</param>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe void Quantize(BlockwiseCodebook book, ReadOnlySpan<float> values, float absmax, ref byte codes)
    {
        float scale = absmax == 0f ? 0f : 1f / absmax;
        int n = values.Length;
        int i = 0;
        if (Avx2.IsSupported)
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
}

