using System;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace OptGen.Kernels;

/// <summary>
/// bfloat16 storage (<see cref="BFloat16"/>): loads widen exactly (the bits shifted up by 16); stores round to nearest,
/// ties to even, in every SIMD width and the scalar path alike, so they give the same bits.
/// </summary>
public readonly struct BFloat16Codec : IElementCodec
{
    /// <inheritdoc/>
    public static int ElementSize => sizeof(ushort);

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Load(ref byte source, nuint index) => BitConverter.Int32BitsToSingle(Unsafe.ReadUnaligned<ushort>(ref Unsafe.Add(ref source, index * 2)) << 16);

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(ref byte destination, nuint index, float value) => Unsafe.WriteUnaligned(ref Unsafe.Add(ref destination, index * 2), Narrow(value));

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Load128(ref byte source, nuint index)
    {
        return (SixteenBit.Load128(ref source, index) << 16).AsSingle();
    }

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store128(ref byte destination, nuint index, Vector128<float> value)
    {
        Vector128<uint> bits = value.AsUInt32();
        Vector128<uint> rounded = (bits + Vector128.Create(0x7FFFu) + ((bits >> 16) & Vector128<uint>.One)) >> 16;
        Vector128<uint> quietNaN = (bits >> 16) | Vector128.Create(0x40u);
        bits = Vector128.ConditionalSelect(Vector128.Equals(value, value).AsUInt32(), rounded, quietNaN);
        SixteenBit.Store128(ref destination, index, bits);
    }

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Load256(ref byte source, nuint index)
    {
        return (SixteenBit.Load256(ref source, index) << 16).AsSingle();
    }

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store256(ref byte destination, nuint index, Vector256<float> value)
    {
        Vector256<uint> bits = value.AsUInt32();
        Vector256<uint> rounded = (bits + Vector256.Create(0x7FFFu) + ((bits >> 16) & Vector256<uint>.One)) >> 16;
        Vector256<uint> quietNaN = (bits >> 16) | Vector256.Create(0x40u);
        bits = Vector256.ConditionalSelect(Vector256.Equals(value, value).AsUInt32(), rounded, quietNaN);
        SixteenBit.Store256(ref destination, index, bits);
    }

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Load512(ref byte source, nuint index)
    {
        return SixteenBit.LoadHigh512(ref source, index).AsSingle();
    }

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store512(ref byte destination, nuint index, Vector512<float> value)
    {
        // The same rounding as the narrower widths, left in the high halves: the store takes them with one permute.
        Vector512<uint> bits = value.AsUInt32();
        Vector512<uint> rounded = bits + (((bits >> 16) & Vector512<uint>.One) + Vector512.Create(0x7FFFu));
        Vector512<uint> quietNaN = bits | Vector512.Create(0x0040_0000u);
        SixteenBit.StoreHigh512(ref destination, index, Vector512.ConditionalSelect(Vector512.Equals(value, value).AsUInt32(), rounded, quietNaN));
    }

    /// <summary>Rounds <paramref name="value"/> to bfloat16 bits, to nearest with ties to even; NaN becomes a quiet NaN.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ushort Narrow(float value)
    {
        uint bits = BitConverter.SingleToUInt32Bits(value);
        return float.IsNaN(value) ? (ushort)((bits >> 16) | 0x40) : (ushort)((bits + 0x7FFFu + ((bits >> 16) & 1)) >> 16);
    }
}
