using System;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace OptGen.Kernels;

/// <summary>
/// IEEE half (<see cref="Half"/>) storage: loads widen exactly; stores round to nearest, ties to even (subnormals,
/// overflow to ±∞ and NaN included), with the same bits in every SIMD width and the scalar path.
/// </summary>
public readonly struct HalfCodec : IElementCodec
{
    /// <inheritdoc/>
    public static int ElementSize => sizeof(ushort);

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Load(ref byte source, nuint index) => (float)BitConverter.UInt16BitsToHalf(Unsafe.ReadUnaligned<ushort>(ref Unsafe.Add(ref source, index * 2)));

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(ref byte destination, nuint index, float value) => Unsafe.WriteUnaligned(ref Unsafe.Add(ref destination, index * 2), BitConverter.HalfToUInt16Bits((Half)value));

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Load128(ref byte source, nuint index)
    {
        Vector128<uint> h = SixteenBit.Load128(ref source, index);
        Vector128<uint> magnitude = (h & Vector128.Create(0x7FFFu)) << 13;
        Vector128<uint> sign = (h & Vector128.Create(0x8000u)) << 16;

        // Normal and subnormal halves: the shifted bits times 2¹¹² (exact). Infinity and NaN: the exponent set to all ones.
        Vector128<uint> finite = (magnitude.AsSingle() * Vector128.Create(0x77800000u).AsSingle()).AsUInt32();
        Vector128<uint> special = magnitude + Vector128.Create(0x70000000u);
        Vector128<uint> isSpecial = Vector128.GreaterThanOrEqual(magnitude, Vector128.Create(0x0F800000u));
        return (Vector128.ConditionalSelect(isSpecial, special, finite) | sign).AsSingle();
    }

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store128(ref byte destination, nuint index, Vector128<float> value)
    {
        Vector128<uint> all = value.AsUInt32();
        Vector128<uint> sign = (all >> 16) & Vector128.Create(0x8000u);
        Vector128<uint> abs = all & Vector128.Create(0x7FFFFFFFu);

        // Normal results: rebias the exponent (127 → 15) and round the 13 dropped bits to nearest, ties to even.
        Vector128<uint> rebiased = abs - Vector128.Create(0x38000000u);
        Vector128<uint> normal = (rebiased + Vector128.Create(0x0FFFu) + ((rebiased >> 13) & Vector128<uint>.One)) >> 13;

        // Subnormal results (|x| < 2⁻¹⁴): adding 0.5 makes the float unit 2⁻²⁴, the half's, and rounds to it.
        Vector128<uint> subnormal = (abs.AsSingle() + Vector128.Create(0.5f)).AsUInt32() - Vector128.Create(0x3F000000u);

        Vector128<uint> bits = Vector128.ConditionalSelect(Vector128.LessThan(abs, Vector128.Create(0x38800000u)), subnormal, normal);
        bits = Vector128.ConditionalSelect(Vector128.GreaterThanOrEqual(abs, Vector128.Create(0x477FF000u)), Vector128.Create(0x7C00u), bits);
        bits = Vector128.ConditionalSelect(Vector128.GreaterThan(abs, Vector128.Create(0x7F800000u)), Vector128.Create(0x7E00u), bits) | sign;
        SixteenBit.Store128(ref destination, index, bits);
    }

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Load256(ref byte source, nuint index)
    {
        Vector256<uint> h = SixteenBit.Load256(ref source, index);
        Vector256<uint> magnitude = (h & Vector256.Create(0x7FFFu)) << 13;
        Vector256<uint> sign = (h & Vector256.Create(0x8000u)) << 16;

        // Normal and subnormal halves: the shifted bits times 2¹¹² (exact). Infinity and NaN: the exponent set to all ones.
        Vector256<uint> finite = (magnitude.AsSingle() * Vector256.Create(0x77800000u).AsSingle()).AsUInt32();
        Vector256<uint> special = magnitude + Vector256.Create(0x70000000u);
        Vector256<uint> isSpecial = Vector256.GreaterThanOrEqual(magnitude, Vector256.Create(0x0F800000u));
        return (Vector256.ConditionalSelect(isSpecial, special, finite) | sign).AsSingle();
    }

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store256(ref byte destination, nuint index, Vector256<float> value)
    {
        Vector256<uint> all = value.AsUInt32();
        Vector256<uint> sign = (all >> 16) & Vector256.Create(0x8000u);
        Vector256<uint> abs = all & Vector256.Create(0x7FFFFFFFu);

        // Normal results: rebias the exponent (127 → 15) and round the 13 dropped bits to nearest, ties to even.
        Vector256<uint> rebiased = abs - Vector256.Create(0x38000000u);
        Vector256<uint> normal = (rebiased + Vector256.Create(0x0FFFu) + ((rebiased >> 13) & Vector256<uint>.One)) >> 13;

        // Subnormal results (|x| < 2⁻¹⁴): adding 0.5 makes the float unit 2⁻²⁴, the half's, and rounds to it.
        Vector256<uint> subnormal = (abs.AsSingle() + Vector256.Create(0.5f)).AsUInt32() - Vector256.Create(0x3F000000u);

        Vector256<uint> bits = Vector256.ConditionalSelect(Vector256.LessThan(abs, Vector256.Create(0x38800000u)), subnormal, normal);
        bits = Vector256.ConditionalSelect(Vector256.GreaterThanOrEqual(abs, Vector256.Create(0x477FF000u)), Vector256.Create(0x7C00u), bits);
        bits = Vector256.ConditionalSelect(Vector256.GreaterThan(abs, Vector256.Create(0x7F800000u)), Vector256.Create(0x7E00u), bits) | sign;
        SixteenBit.Store256(ref destination, index, bits);
    }

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Load512(ref byte source, nuint index)
    {
        Vector512<uint> h = SixteenBit.Load512(ref source, index);
        Vector512<uint> magnitude = (h & Vector512.Create(0x7FFFu)) << 13;
        Vector512<uint> sign = (h & Vector512.Create(0x8000u)) << 16;

        // Normal and subnormal halves: the shifted bits times 2¹¹² (exact). Infinity and NaN: the exponent set to all ones.
        Vector512<uint> finite = (magnitude.AsSingle() * Vector512.Create(0x77800000u).AsSingle()).AsUInt32();
        Vector512<uint> special = magnitude + Vector512.Create(0x70000000u);
        Vector512<uint> isSpecial = Vector512.GreaterThanOrEqual(magnitude, Vector512.Create(0x0F800000u));
        return (Vector512.ConditionalSelect(isSpecial, special, finite) | sign).AsSingle();
    }

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store512(ref byte destination, nuint index, Vector512<float> value)
    {
        Vector512<uint> all = value.AsUInt32();
        Vector512<uint> sign = (all >> 16) & Vector512.Create(0x8000u);
        Vector512<uint> abs = all & Vector512.Create(0x7FFFFFFFu);

        // Normal results: rebias the exponent (127 → 15) and round the 13 dropped bits to nearest, ties to even.
        Vector512<uint> rebiased = abs - Vector512.Create(0x38000000u);
        Vector512<uint> normal = (rebiased + Vector512.Create(0x0FFFu) + ((rebiased >> 13) & Vector512<uint>.One)) >> 13;

        // Subnormal results (|x| < 2⁻¹⁴): adding 0.5 makes the float unit 2⁻²⁴, the half's, and rounds to it.
        Vector512<uint> subnormal = (abs.AsSingle() + Vector512.Create(0.5f)).AsUInt32() - Vector512.Create(0x3F000000u);

        Vector512<uint> bits = Vector512.ConditionalSelect(Vector512.LessThan(abs, Vector512.Create(0x38800000u)), subnormal, normal);
        bits = Vector512.ConditionalSelect(Vector512.GreaterThanOrEqual(abs, Vector512.Create(0x477FF000u)), Vector512.Create(0x7C00u), bits);
        bits = Vector512.ConditionalSelect(Vector512.GreaterThan(abs, Vector512.Create(0x7F800000u)), Vector512.Create(0x7E00u), bits) | sign;
        SixteenBit.Store512(ref destination, index, bits);
    }
}
