using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace OptGen.Kernels;

/// <summary>Moves 16-bit elements between memory and 32-bit vector lanes (the shared part of the half and bfloat16 codecs).</summary>
internal static class SixteenBit
{
    /// <summary>
    /// <c>vpermt2w</c> indices that put 16-bit element j of the first table in the high half of 32-bit lane j and a
    /// zero (index 32: element 0 of the zero table) in its low half.
    /// </summary>
    private static readonly Vector512<ushort> s_toHighHalves = CreateIndices(w => (w & 1) == 0 ? 32 : w >> 1);

    /// <summary><c>vpermw</c> indices that gather the high half of 32-bit lane j into 16-bit element j, j &lt; 16.</summary>
    private static readonly Vector512<ushort> s_fromHighHalves = CreateIndices(w => w < 16 ? (2 * w) + 1 : 0);

    private static Vector512<ushort> CreateIndices(System.Func<int, int> index)
    {
        var indices = new ushort[Vector512<ushort>.Count];
        for (int w = 0; w < indices.Length; w++)
        {
            indices[w] = (ushort)index(w);
        }

        return Vector512.Create(indices);
    }

    /// <summary>
    /// Reads 16 16-bit elements starting at <paramref name="index"/> into the high halves of 32-bit lanes (each
    /// element shifted left by 16): with AVX-512BW one <c>vpermt2w</c> against zero instead of a widen and a shift.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<uint> LoadHigh512(ref byte source, nuint index)
    {
        if (!Avx512BW.IsSupported)
        {
            return Load512(ref source, index) << 16;
        }

        Vector256<ushort> packed = Vector256.LoadUnsafe(ref Unsafe.As<byte, ushort>(ref source), index);
        return Avx512BW.PermuteVar32x16x2(packed.ToVector512Unsafe(), s_toHighHalves, Vector512<ushort>.Zero).AsUInt32();
    }

    /// <summary>
    /// Writes the high 16 bits of each of 16 lanes starting at <paramref name="index"/>: with AVX-512BW one
    /// <c>vpermw</c> and a plain store instead of a shift and a <c>vpmovdw</c> (two µops on Zen 4).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void StoreHigh512(ref byte destination, nuint index, Vector512<uint> bits)
    {
        if (Avx512BW.IsSupported)
        {
            Avx512BW.PermuteVar32x16(bits.AsUInt16(), s_fromHighHalves).GetLower().StoreUnsafe(ref Unsafe.As<byte, ushort>(ref destination), index);
        }
        else
        {
            Store512(ref destination, index, bits >> 16);
        }
    }

    /// <summary>Reads 4 16-bit elements starting at <paramref name="index"/>, each zero-extended to 32 bits.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<uint> Load128(ref byte source, nuint index) => Vector128.WidenLower(Vector128.CreateScalarUnsafe(Unsafe.ReadUnaligned<ulong>(ref Unsafe.Add(ref source, index * 2))).AsUInt16());

    /// <summary>Writes the low 16 bits of each of 4 lanes starting at <paramref name="index"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store128(ref byte destination, nuint index, Vector128<uint> bits) => Unsafe.WriteUnaligned(ref Unsafe.Add(ref destination, index * 2), Vector128.Narrow(bits, bits).AsUInt64().ToScalar());

    /// <summary>Reads 8 16-bit elements starting at <paramref name="index"/>, each zero-extended to 32 bits.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<uint> Load256(ref byte source, nuint index) => Vector256.WidenLower(Vector128.LoadUnsafe(ref Unsafe.As<byte, ushort>(ref source), index).ToVector256Unsafe());

    /// <summary>Writes the low 16 bits of each of 8 lanes starting at <paramref name="index"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store256(ref byte destination, nuint index, Vector256<uint> bits)
    {
        // One VPMOVDW where AVX-512 has it. With AVX2 only, one VPSHUFB gathers the low two bytes of each lane into
        // the low quadword of each 128-bit half and one VPERMQ joins the two quadwords; Narrow(bits, bits) took a
        // mask, a pack and a permute (BFloat16-state Adam with AVX-512 off: 63–65 → 58 ms at 64M on one thread).
        Vector128<ushort> narrow;
        if (Avx512F.VL.IsSupported)
        {
            narrow = Avx512F.VL.ConvertToVector128UInt16(bits);
        }
        else if (Avx2.IsSupported)
        {
            Vector256<byte> packed = Avx2.Shuffle(bits.AsByte(), Vector256.Create((byte)0, 1, 4, 5, 8, 9, 12, 13, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0, 1, 4, 5, 8, 9, 12, 13, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80));
            narrow = Avx2.Permute4x64(packed.AsUInt64(), 0b_00_00_10_00).AsUInt16().GetLower();
        }
        else
        {
            narrow = Vector256.Narrow(bits, bits).GetLower();
        }

        narrow.StoreUnsafe(ref Unsafe.As<byte, ushort>(ref destination), index);
    }

    /// <summary>Reads 16 16-bit elements starting at <paramref name="index"/>, each zero-extended to 32 bits.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<uint> Load512(ref byte source, nuint index) => Vector512.WidenLower(Vector256.LoadUnsafe(ref Unsafe.As<byte, ushort>(ref source), index).ToVector512Unsafe());

    /// <summary>Writes the low 16 bits of each of 16 lanes starting at <paramref name="index"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store512(ref byte destination, nuint index, Vector512<uint> bits)
    {
        Vector256<ushort> narrow = Avx512F.IsSupported ? Avx512F.ConvertToVector256UInt16(bits) : Vector512.Narrow(bits, bits).GetLower();
        narrow.StoreUnsafe(ref Unsafe.As<byte, ushort>(ref destination), index);
    }
}
