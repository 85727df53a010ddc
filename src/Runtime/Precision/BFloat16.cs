using System;
using System.Globalization;

namespace OptGen;

/// <summary>
/// A bfloat16 number: the upper 16 bits of an IEEE float32 (1 sign, 8 exponent, 7 mantissa bits). Conversions from
/// float round to nearest, ties to even; NaN stays NaN.
/// </summary>
public readonly struct BFloat16 : IEquatable<BFloat16>
{
    private BFloat16(ushort bits) => RawValue = bits;

    /// <summary>The stored bits.</summary>
    public ushort RawValue { get; }

    /// <summary>The value with the given bits.</summary>
    public static BFloat16 FromRawValue(ushort bits) => new(bits);

    /// <summary>Widens exactly to float32.</summary>
    public static explicit operator float(BFloat16 value) => BitConverter.Int32BitsToSingle(value.RawValue << 16);

    /// <summary>Rounds a float32 to the nearest bfloat16, ties to even.</summary>
    public static explicit operator BFloat16(float value) => new(Kernels.BFloat16Codec.Narrow(value));

    /// <summary>Bitwise equality.</summary>
    public static bool operator ==(BFloat16 left, BFloat16 right) => left.Equals(right);

    /// <summary>Bitwise inequality.</summary>
    public static bool operator !=(BFloat16 left, BFloat16 right) => !left.Equals(right);

    /// <summary>Bitwise equality.</summary>
    public bool Equals(BFloat16 other) => RawValue == other.RawValue;

    /// <inheritdoc/>
    public override bool Equals(object? obj) => obj is BFloat16 other && Equals(other);

    /// <inheritdoc/>
    public override int GetHashCode() => RawValue;

    /// <inheritdoc/>
    public override string ToString() => ((float)this).ToString(CultureInfo.InvariantCulture);
}
