using System;
using System.Collections.Generic;
using System.Runtime.CompilerServices;

namespace OptGen.Kernels;

/// <summary>
/// One code table of blockwise-quantized optimizer state (8-bit: bitsandbytes' dynamic map, blocks of 256; 4-bit:
/// torchao's signed dynamic map or its linear unsigned map, blocks of 128). A block of <see cref="BlockLength"/>
/// values is stored as one float32 absmax and one code per value; value = <see cref="Values"/>[code] · absmax.
/// </summary>
/// <remarks>
/// <para><b>Maps.</b> The dynamic map is <c>create_dynamic_map(signed, max_exponent_bits, total_bits)</c> of
/// bitsandbytes (8-bit: 7 exponent bits; 4-bit: 3), computed as PyTorch computes it in float32: for decade
/// i = 0 … e − 1, the midpoints of <c>torch.linspace(0.1, 1, n)</c> scaled by 10^(i − e + 1), both signs when
/// signed, then 0 and 1, sorted. The 4-bit unsigned map is <c>torch.linspace(0, 1, 17)[1:]</c> (k/16, no zero).</para>
/// <para><b>Rounding.</b> A value x (already divided by the block's absmax) gets the nearest code, ties to the
/// larger one, exactly as torchao's <c>quantize_8bit_with_qmap</c> decides it in float32: the largest code d with
/// map[d] ≤ x, then d + 1 when x − map[d] ≥ (map[d + 1] − map[d]) · 0.5. For the 8-bit signed map a value whose
/// nearest code has the other sign (a tiny negative rounded to 0) moves one code toward its own sign, as the
/// bitsandbytes 8-bit kernels keep the sign of small first moments.</para>
/// <para>Computed here with a bucket table on the float's bits (exponent and top mantissa bits) that holds at most
/// one decision threshold per bucket, checked against the definition above for every bucket when the table is built.</para>
/// </remarks>
public sealed partial class BlockwiseCodebook
{
    private const uint MagnitudeClamp = 0x3FFF_FFFF; // just below 2.0: larger magnitudes take the end codes
    private const int MaximumExponent = 127;         // the biased exponent of [1, 2)

    private readonly float[] _values;
    private readonly float[] _thresholds;  // [c] for c = 1 … N − 1: the smallest x whose code is ≥ c; [N] = NaN
    private readonly float[] _rank;        // the thresholds by binary-search level (see RankTable)
    private readonly byte[] _bytePlanes;   // the code values' bytes, plane by plane (see BytePlanes)
    private readonly uint[] _buckets;      // positive buckets, then negative: (code of the bucket's smallest value) << 24 | threshold key
    private readonly int _mantissaBits;
    private readonly int _minimumExponent;
    private readonly int _bucketsPerSign;

    private BlockwiseCodebook(string name, float[] values, int blockLength, bool signed, bool keepSign, int[]? decades = null)
    {
        Name = name;
        _values = GC.AllocateArray<float>(values.Length, pinned: true);
        values.CopyTo(_values, 0);
        Values = Array.AsReadOnly(_values);
        ZeroCode = Array.IndexOf(values, 0f);
        Bits = values.Length == 256 ? 8 : 4;
        BlockLength = blockLength;
        IsSigned = signed;
        KeepsSign = keepSign;
        _thresholds = GC.AllocateArray<float>(values.Length + 1, pinned: true);
        for (int c = 1; c < values.Length; c++)
        {
            _thresholds[c] = SmallestRoundingUp(values[c - 1], values[c]);
        }

        _thresholds[values.Length] = float.NaN;
        _rank = RankLevels(_thresholds, values.Length);
        _bytePlanes = GC.AllocateArray<byte>(4 * values.Length, pinned: true);
        for (int c = 0; c < values.Length; c++)
        {
            uint bits = BitConverter.SingleToUInt32Bits(values[c]);
            for (int b = 0; b < 4; b++)
            {
                _bytePlanes[(b * values.Length) + c] = (byte)(bits >> (8 * b));
            }
        }
        float smallest = float.PositiveInfinity;
        for (int c = 1; c < values.Length; c++)
        {
            smallest = Math.Min(smallest, Math.Abs(_thresholds[c]));
        }

        _minimumExponent = (int)(BitConverter.SingleToUInt32Bits(smallest) >> 23);
        for (_mantissaBits = 2; ; _mantissaBits++)
        {
            _bucketsPerSign = 1 + ((MaximumExponent - _minimumExponent + 1) << _mantissaBits);
            _buckets = GC.AllocateArray<uint>(2 * _bucketsPerSign, pinned: true);
            if (TryFillBuckets())
            {
                break;
            }

            if (_mantissaBits == 12)
            {
                throw new InvalidOperationException($"The {name} code map has thresholds closer than the bucket table resolves.");
            }
        }

        if (decades is not null)
        {
            BuildLines(decades);
        }

        BuildLinearRule();
    }

    /// <summary>8-bit codes for values of either sign (first moments): bitsandbytes' signed dynamic map, blocks of 256.</summary>
    public static BlockwiseCodebook Int8Signed { get; } = new("8-bit signed dynamic", DynamicMap(signed: true, 7, 8), 256, signed: true, keepSign: true, DecadeSizes(signed: true, 7, 8));

    /// <summary>8-bit codes for values ≥ 0 (second moments, sums of squares): bitsandbytes' unsigned dynamic map, blocks of 256.</summary>
    public static BlockwiseCodebook Int8Unsigned { get; } = new("8-bit unsigned dynamic", DynamicMap(signed: false, 7, 8), 256, signed: false, keepSign: false, DecadeSizes(signed: false, 7, 8));

    /// <summary>4-bit codes for values of either sign: torchao's signed dynamic map (3 exponent bits), blocks of 128.</summary>
    public static BlockwiseCodebook Int4Signed { get; } = new("4-bit signed dynamic", DynamicMap(signed: true, 3, 4), 128, signed: true, keepSign: false);

    /// <summary>4-bit codes for values ≥ 0: torchao's linear map k/16, k = 1 … 16 (no zero), blocks of 128.</summary>
    public static BlockwiseCodebook Int4Unsigned { get; } = new("4-bit unsigned linear", LinearUnsignedMap(), 128, signed: false, keepSign: false);

    /// <summary>A short description ("8-bit signed dynamic", …).</summary>
    public string Name { get; }

    /// <summary>The code values, ascending: code c stands for Values[c] · absmax.</summary>
    public IReadOnlyList<float> Values { get; }

    /// <summary>Bits per code: 8 or 4.</summary>
    public int Bits { get; }

    /// <summary>Values per block (one absmax each): 256 for 8-bit, 128 for 4-bit.</summary>
    public int BlockLength { get; }

    /// <summary>Whether the map holds negative values.</summary>
    public bool IsSigned { get; }

    /// <summary>Whether a value never gets a code of the other sign (bitsandbytes' fix for small first moments).</summary>
    public bool KeepsSign { get; }

    /// <summary>The code of the value 0 (the map's 0), or −1 when the map has none (4-bit unsigned).</summary>
    public int ZeroCode { get; }

    /// <summary>The decision thresholds: [c] for c = 1 … N − 1 is the smallest x whose code is ≥ c (the GPU kernel's binary search, <c>Gpu/GpuBlockwise.cs</c>).</summary>
    internal ReadOnlySpan<float> Thresholds => _thresholds;

    /// <summary>The code values (pinned, never moved): the SIMD paths of <see cref="BlockwiseBlock"/> gather from it.</summary>
    internal float[] ValueTable => _values;

    /// <summary>
    /// The bucket table (pinned): per bucket of the float's bits, the code of its smallest value in the top byte and
    /// in the low 24 bits the key of the one decision threshold inside the bucket (<see cref="Key"/>), or a key no
    /// value reaches when there is none.
    /// </summary>
    internal uint[] Buckets => _buckets;

    /// <summary>
    /// The decision thresholds laid out for a branch-free binary search (pinned). The code of x is the number of
    /// thresholds ≤ x; the search decides its bits from the top, and keeps the bits decided so far in reverse order
    /// (the first decision in bit 0), so that they index the next level's table directly. Level k = 1 … log2 N
    /// (N codes, s = N / 2^k) holds, at index r (k − 1 bits), thresholds[s + 2s·p] with p the k − 1 bits of r
    /// reversed, padded to 16 floats: 4-bit levels 1 … 4 at 0, 16, 32, 48 (64 floats), 8-bit levels 1 … 5 at
    /// 0, 16, 32, 48, 64. The 8-bit search then takes all seven thresholds of the eight codes left in one go: tail
    /// table t = 1 … 7 (32 floats each, from 80 + 32·(t − 1); 304 floats in all) holds at index r (the first five
    /// decisions, reversed) thresholds[8·p + t]. The search ends with the code's bits reversed.
    /// </summary>
    internal float[] RankTable => _rank;

    /// <summary>The code values' float32 bits as four byte planes (pinned): byte b of Values[c] at b·N + c, lowest byte first.</summary>
    internal byte[] BytePlanes => _bytePlanes;

    /// <summary>Biased float exponents below this fall in bucket 0.</summary>
    internal int MinimumExponent => _minimumExponent;

    /// <summary>Mantissa bits per bucket within one exponent.</summary>
    internal int MantissaBits => _mantissaBits;

    /// <summary>Buckets per sign (the negative side starts here).</summary>
    internal int BucketsPerSign => _bucketsPerSign;

    /// <summary>Magnitudes above this (just below 2.0) are clamped to it.</summary>
    internal const uint Clamp = MagnitudeClamp;

    /// <summary>The codebook for <paramref name="bits"/> (8 or 4) and signedness.</summary>
    public static BlockwiseCodebook For(int bits, bool signed) => bits == 8
        ? (signed ? Int8Signed : Int8Unsigned)
        : (signed ? Int4Signed : Int4Unsigned);

    /// <summary>The code of <paramref name="normalized"/> (a value divided by its block's absmax).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public int Quantize(float normalized)
    {
        uint bits = BitConverter.SingleToUInt32Bits(normalized);
        uint magnitude = Math.Min(bits & 0x7FFF_FFFF, MagnitudeClamp);
        int exponent = (int)(magnitude >> 23);
        int bucket = exponent < _minimumExponent ? 0 : 1 + (int)((magnitude - ((uint)_minimumExponent << 23)) >> (23 - _mantissaBits));
        bucket += (int)(bits >> 31) * _bucketsPerSign;
        uint entry = Unsafe.Add(ref _buckets[0], bucket);
        int code = (int)(entry >> 24) + (Key(magnitude, bits >> 31 != 0) >= (entry & 0xFF_FFFF) ? 1 : 0);
        if (KeepsSign)
        {
            code = KeepSign(code, normalized);
        }

        return code;
    }

    /// <summary>
    /// The mantissa bits below the bucket's, ordered like the value within its bucket: a value in a bucket is ≥ the
    /// bucket's threshold exactly when its key is ≥ the threshold's (for negative values the bits are flipped, since a
    /// larger magnitude is a smaller value).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal uint Key(uint magnitude, bool negative)
    {
        uint mask = KeyMask;
        return (magnitude & mask) ^ (negative ? mask : 0u);
    }

    /// <summary>The bits of <see cref="Key"/>: the mantissa bits below the bucket's.</summary>
    internal uint KeyMask => (1u << (23 - _mantissaBits)) - 1;

    /// <summary>
    /// The code the definition gives <paramref name="normalized"/>, by binary search over the map (torchao's
    /// rounding; no bucket table): the check the bucket table is built against.
    /// </summary>
    public int QuantizeByDefinition(float normalized)
    {
        int code = Nearest(normalized);
        return KeepsSign ? KeepSign(code, normalized) : code;
    }

    /// <summary>The nearest code, ties to the larger (before the sign fix).</summary>
    private int Nearest(float normalized)
    {
        float[] map = _values;
        int d = 0;
        for (int step = map.Length / 2; step > 0; step /= 2)
        {
            d += normalized >= map[d + step] ? step : 0;
        }

        int up = Math.Min(d + 1, map.Length - 1);
        float residual = normalized - map[d];
        return residual >= (map[up] - map[d]) * 0.5f ? up : d;
    }

    /// <summary>Dequantizes code <paramref name="code"/> of a block whose absmax is <paramref name="absmax"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public float Dequantize(int code, float absmax) => _values[code] * absmax;

    /// <summary>bitsandbytes: a code whose value has the other sign bit than the value moves one code toward the value's sign.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private int KeepSign(int code, float normalized)
    {
        float value = _values[code];
        if (float.IsNegative(value) != float.IsNegative(normalized) && !float.IsNaN(normalized))
        {
            code += normalized > 0 ? 1 : -1;
        }

        return code;
    }

    /// <summary>The code of <paramref name="normalized"/> as the count of decision thresholds ≤ it (the rank the SIMD search of <see cref="RankTable"/> computes), with the same magnitude clamp and sign fix as <see cref="Quantize"/>.</summary>
    internal int QuantizeByRank(float normalized)
    {
        uint bits = BitConverter.SingleToUInt32Bits(normalized);
        float x = BitConverter.UInt32BitsToSingle(Math.Min(bits & 0x7FFF_FFFF, MagnitudeClamp) | (bits & 0x8000_0000));
        int code = 0;
        for (int c = 1; c < _values.Length; c++)
        {
            code += x >= _thresholds[c] ? 1 : 0;
        }

        return KeepsSign && code == ZeroCode && (int)bits < 0 ? code - 1 : code;
    }

    private static float[] RankLevels(float[] thresholds, int n)
    {
        var levels = new List<float>();
        int searched = n == 256 ? 5 : 4; // 8-bit: the last three levels come from the tail tables
        for (int k = 1, s = n / 2; k <= searched; k++, s /= 2)
        {
            int count = n / (2 * s);
            for (int r = 0; r < Math.Max(count, 16); r++)
            {
                levels.Add(r < count ? thresholds[s + (2 * s * Reverse(r, k - 1))] : float.NaN);
            }
        }

        if (n == 256)
        {
            // Tail table t = 1 … 7 at index r (the first five decisions, reversed): thresholds[8·p + t].
            for (int t = 1; t < 8; t++)
            {
                for (int r = 0; r < 32; r++)
                {
                    levels.Add(thresholds[(8 * Reverse(r, 5)) + t]);
                }
            }
        }

        float[] pinned = GC.AllocateArray<float>(levels.Count, pinned: true);
        levels.CopyTo(pinned);
        return pinned;
    }

    /// <summary>The low <paramref name="bits"/> bits of <paramref name="value"/> in reverse order.</summary>
    internal static int Reverse(int value, int bits)
    {
        int reversed = 0;
        for (int b = 0; b < bits; b++)
        {
            reversed |= ((value >> b) & 1) << (bits - 1 - b);
        }

        return reversed;
    }

    /// <summary>bitsandbytes' create_dynamic_map in PyTorch's float32 arithmetic (linspace, midpoints, scale).</summary>
    private static float[] DynamicMap(bool signed, int maxExponentBits, int totalBits)
    {
        var data = new List<float>();
        int nonSignBits = totalBits - 1;
        int additional = (1 << (nonSignBits - maxExponentBits)) - 1;
        int[] decades = DecadeSizes(signed, maxExponentBits, totalBits);
        int i = 0;
        for (; i < maxExponentBits; i++)
        {
            AddDecade(data, decades[i] + 1, Math.Pow(10, -(maxExponentBits - 1) + i), signed);
        }

        if (additional > 0)
        {
            AddDecade(data, additional + 1, Math.Pow(10, -(maxExponentBits - 1) + i - 1), signed);
        }

        data.Add(0f);
        data.Add(1f);
        if (data.Count != 1 << totalBits)
        {
            throw new InvalidOperationException("The dynamic map has the wrong number of values.");
        }

        data.Sort();
        return data.ToArray();
    }

    /// <summary>The dynamic map's codes per decade i = 0 … e − 1 on one side (create_dynamic_map's fraction_items − 1).</summary>
    private static int[] DecadeSizes(bool signed, int maxExponentBits, int totalBits)
    {
        int nonSignBits = totalBits - 1;
        var sizes = new int[maxExponentBits];
        for (int i = 0; i < maxExponentBits; i++)
        {
            sizes[i] = 1 << (i + nonSignBits - maxExponentBits + (signed ? 0 : 1));
        }

        return sizes;
    }

    private static void AddDecade(List<float> data, int items, double scale, bool signed)
    {
        float[] boundaries = Linspace(0.1f, 1f, items);
        float positive = (float)scale;
        float negative = (float)-scale;
        for (int k = 0; k + 1 < boundaries.Length; k++)
        {
            data.Add(positive * ((boundaries[k] + boundaries[k + 1]) / 2f));
        }

        if (signed)
        {
            for (int k = 0; k + 1 < boundaries.Length; k++)
            {
                data.Add(negative * ((boundaries[k] + boundaries[k + 1]) / 2f));
            }
        }
    }

    /// <summary>torch.linspace in float32: start + step·i for the first half, end − step·(n − 1 − i) for the rest.</summary>
    private static float[] Linspace(float start, float end, int steps)
    {
        var result = new float[steps];
        float step = (end - start) / (steps - 1);
        int halfway = steps / 2;
        for (int k = 0; k < steps; k++)
        {
            result[k] = k < halfway ? start + (step * k) : end - (step * (steps - k - 1));
        }

        return result;
    }

    private static float[] LinearUnsignedMap()
    {
        float[] all = Linspace(0f, 1f, 17);
        return all.AsSpan(1).ToArray();
    }

    /// <summary>The smallest float x in [low, high] that rounds up to high (x − low ≥ (high − low) · 0.5 in float32).</summary>
    private static float SmallestRoundingUp(float low, float high)
    {
        float half = (high - low) * 0.5f;
        int lo = Order(low), hi = Order(high);
        while (lo < hi)
        {
            int mid = lo + ((hi - lo) / 2);
            if (FromOrder(mid) - low >= half)
            {
                hi = mid;
            }
            else
            {
                lo = mid + 1;
            }
        }

        return FromOrder(lo);
    }

    // A float's position in the order of floats, as an int (−0 just below +0).
    private static int Order(float x)
    {
        int bits = BitConverter.SingleToInt32Bits(x);
        return bits >= 0 ? bits : bits ^ 0x7FFF_FFFF;
    }

    private static float FromOrder(int order) => BitConverter.Int32BitsToSingle(order >= 0 ? order : order ^ 0x7FFF_FFFF);

    private bool TryFillBuckets()
    {
        uint width = 1u << (23 - _mantissaBits);
        for (int side = 0; side < 2; side++)
        {
            float sign = side == 0 ? 1f : -1f;
            for (int b = 0; b < _bucketsPerSign; b++)
            {
                // The magnitudes of bucket b: [0, 2^min) for bucket 0, else one run of mantissas.
                uint first = b == 0 ? 0u : ((uint)_minimumExponent << 23) + ((uint)(b - 1) * width);
                uint last = b == 0 ? ((uint)_minimumExponent << 23) - 1 : Math.Min(first + width - 1, MagnitudeClamp);
                float a = sign * BitConverter.UInt32BitsToSingle(first);
                float z = sign * BitConverter.UInt32BitsToSingle(last);
                float low = Math.Min(a, z), high = Math.Max(a, z);
                int codeLow = Nearest(low), codeHigh = Nearest(high);
                if (b == 0 && (Nearest(sign * 0f) != codeLow || codeHigh != codeLow))
                {
                    // Both zeros and every magnitude below the first threshold's exponent: one code per side.
                    return false;
                }

                if (codeHigh - codeLow > 1)
                {
                    return false;
                }

                // The threshold inside the bucket (when its ends differ), as a key; else one above every key.
                uint key = KeyMask + 1;
                if (codeHigh != codeLow)
                {
                    uint threshold = BitConverter.SingleToUInt32Bits(_thresholds[codeHigh]) & 0x7FFF_FFFF;
                    if (b == 0 || (threshold >> (23 - _mantissaBits)) != (first >> (23 - _mantissaBits)))
                    {
                        return false;
                    }

                    key = Key(threshold, side == 1);
                }

                _buckets[(side * _bucketsPerSign) + b] = ((uint)codeLow << 24) | key;
            }
        }

        // Check every bucket's one comparison (including the sign fix) against the definition at its ends and thresholds.
        for (int c = 1; c < Values.Count; c++)
        {
            float t = _thresholds[c];
            foreach (float x in (ReadOnlySpan<float>)[t, MathF.BitDecrement(t), MathF.BitIncrement(t), Values[c], Values[c - 1]])
            {
                if (Quantize(x) != QuantizeByDefinition(x) || QuantizeByRank(x) != Quantize(x))
                {
                    return false;
                }
            }
        }

        return true;
    }
}
