using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace OptGen.Kernels;

/// <summary>Moves 16-bit elements between memory and 32-bit vector lanes (the shared part of the half and bfloat16 codecs).</summary>
internal static class SixteenBit
{
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
        // One VPMOVDW where AVX-512 has it: Narrow(bits, bits) narrows both halves twice and shuffles them together.
        Vector128<ushort> narrow = Avx512F.VL.IsSupported ? Avx512F.VL.ConvertToVector128UInt16(bits) : Vector256.Narrow(bits, bits).GetLower();
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
