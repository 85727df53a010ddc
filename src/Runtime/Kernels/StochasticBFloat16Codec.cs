using System;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace OptGen.Kernels;

/// <summary>
/// bfloat16 storage with stochastic rounding on store: a value between two bfloat16 neighbours becomes the upper one
/// with probability equal to its distance from the lower one, so E[round(x)] = x and small updates are not lost.
/// The random bits are a hash of the element's arena position and a per-step seed (<see cref="StochasticRounding"/>),
/// so the result depends on the data, the step and the seed, never on the thread, piece or shard that ran it. Loads are exact (the same widening as <see cref="BFloat16Codec"/>, which they call).
/// </summary>
public readonly struct StochasticBFloat16Codec : IElementCodec
{
    /// <inheritdoc/>
    public static int ElementSize => sizeof(ushort);

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Load(ref byte source, nuint index) => BFloat16Codec.Load(ref source, index);

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(ref byte destination, nuint index, float value) => Unsafe.WriteUnaligned(ref Unsafe.Add(ref destination, index * 2), Narrow(value, index));

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Load128(ref byte source, nuint index) => BFloat16Codec.Load128(ref source, index);

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store128(ref byte destination, nuint index, Vector128<float> value)
    {
        Vector128<uint> bits = value.AsUInt32();
        Vector128<uint> noise = StochasticRounding.Noise(Vector128.Create((uint)index) + Vector128<uint>.Indices);
        Vector128<uint> rounded = (bits + noise) >> 16;
        Vector128<uint> quietNaN = (bits >> 16) | Vector128.Create(0x40u);
        bits = Vector128.ConditionalSelect(Vector128.Equals(value, value).AsUInt32(), rounded, quietNaN);
        SixteenBit.Store128(ref destination, index, bits);
    }

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Load256(ref byte source, nuint index) => BFloat16Codec.Load256(ref source, index);

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store256(ref byte destination, nuint index, Vector256<float> value)
    {
        Vector256<uint> bits = value.AsUInt32();
        Vector256<uint> noise = StochasticRounding.Noise(Vector256.Create((uint)index) + Vector256<uint>.Indices);
        Vector256<uint> rounded = (bits + noise) >> 16;
        Vector256<uint> quietNaN = (bits >> 16) | Vector256.Create(0x40u);
        bits = Vector256.ConditionalSelect(Vector256.Equals(value, value).AsUInt32(), rounded, quietNaN);
        SixteenBit.Store256(ref destination, index, bits);
    }

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Load512(ref byte source, nuint index) => BFloat16Codec.Load512(ref source, index);

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store512(ref byte destination, nuint index, Vector512<float> value)
    {
        Vector512<uint> bits = value.AsUInt32();
        Vector512<uint> noise = StochasticRounding.Noise(Vector512.Create((uint)index) + Vector512<uint>.Indices);
        Vector512<uint> rounded = bits + noise;
        Vector512<uint> quietNaN = bits | Vector512.Create(0x0040_0000u);
        SixteenBit.StoreHigh512(ref destination, index, Vector512.ConditionalSelect(Vector512.Equals(value, value).AsUInt32(), rounded, quietNaN));
    }

    /// <summary>Rounds <paramref name="value"/> stochastically with the noise of element <paramref name="index"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ushort Narrow(float value, nuint index)
    {
        uint bits = BitConverter.SingleToUInt32Bits(value);
        return float.IsNaN(value) ? (ushort)((bits >> 16) | 0x40) : (ushort)((bits + StochasticRounding.Noise((uint)index)) >> 16);
    }
}
