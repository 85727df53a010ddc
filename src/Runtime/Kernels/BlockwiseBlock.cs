using System;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

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
    public static void Dequantize(BlockwiseCodebook book, ref byte codes, float absmax, Span<float> values)
    {
        if (book.Bits == 8)
        {
            for (int i = 0; i < values.Length; i++)
            {
                values[i] = book.Dequantize(Unsafe.Add(ref codes, i), absmax);
            }

            return;
        }

        for (int i = 0; i < values.Length; i++)
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
    public static void Quantize(BlockwiseCodebook book, ReadOnlySpan<float> values, float absmax, ref byte codes)
    {
        float scale = absmax == 0f ? 0f : 1f / absmax;
        if (book.Bits == 8)
        {
            for (int i = 0; i < values.Length; i++)
            {
                Unsafe.Add(ref codes, i) = (byte)book.Quantize(values[i] * scale);
            }

            return;
        }

        int n = values.Length;
        int pairs = n >> 1;
        for (int i = 0; i < pairs; i++)
        {
            int high = book.Quantize(values[2 * i] * scale);
            int low = book.Quantize(values[(2 * i) + 1] * scale);
            Unsafe.Add(ref codes, i) = (byte)((high << 4) | low);
        }

        if ((n & 1) != 0)
        {
            Unsafe.Add(ref codes, pairs) = (byte)(book.Quantize(values[n - 1] * scale) << 4);
        }
    }
}
