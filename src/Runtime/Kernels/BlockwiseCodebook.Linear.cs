using System;

namespace OptGen.Kernels;

/// <content>
/// The 4-bit unsigned map's codes by one multiply-add (torchao's linear map k/16 is equally spaced), for the AVX-512
/// quantizer of <see cref="BlockwiseBlock"/>, and the proof, run when the codebook is built, that the rule gives
/// <see cref="QuantizeByRank"/>'s code for every float32.
/// </content>
/// <remarks>
/// <para>The map's values are v[c] = (c + 1)·v[0], so the nearest code of x is about x / v[0] − ½. The kernel clamps
/// the float's bits as an int to [0, bits of just below 2] (every negative value, −0 and a negative NaN become +0;
/// a positive NaN or ∞ the clamp, as the definition clamps them), computes t = fma(1 / v[0], x, −½) in float32 and
/// takes min(trunc(t), N − 1); trunc of a t in [−½, 0) is 0.</para>
/// <para>Both the rule and the definition are monotone in x, and the definition steps up by one exactly at each of
/// its thresholds, so the rule is the definition everywhere once it agrees at every threshold and the float just
/// below it, and at −∞ and +∞ (between two such points both are constant); NaNs are checked directly (the rule does
/// not depend on a NaN's payload, nor does the definition's clamp).</para>
/// </remarks>
public sealed partial class BlockwiseCodebook
{
    private float _linearScale;

    /// <summary>Whether the codes come from one multiply-add (<see cref="LinearScale"/>): the 4-bit unsigned linear map.</summary>
    internal bool HasLinearRule => _linearScale != 0f;

    /// <summary>The rule's factor 1 / v[0] (16 for k/16).</summary>
    internal float LinearScale => _linearScale;

    /// <summary>The linear rule for one value, as the AVX-512 kernel computes it (for tests and the proof).</summary>
    internal int QuantizeByLinearRule(float normalized)
    {
        int bits = Math.Clamp(BitConverter.SingleToInt32Bits(normalized), 0, (int)MagnitudeClamp);
        float t = MathF.FusedMultiplyAdd(_linearScale, BitConverter.Int32BitsToSingle(bits), -0.5f);
        return Math.Min((int)t, _values.Length - 1);
    }

    /// <summary>Sets up the linear rule when the map is equally spaced from v[0] (v[c] = (c + 1)·v[0]) and proves it; throws if the proof fails.</summary>
    private void BuildLinearRule()
    {
        float[] v = _values;
        for (int c = 0; c < v.Length; c++)
        {
            if (v[c] != (c + 1) * v[0])
            {
                return; // not a linear map: the search quantizes it
            }
        }

        _linearScale = 1f / v[0];
        var points = new System.Collections.Generic.List<float>
        {
            float.NegativeInfinity, float.PositiveInfinity, -0f, 0f,
            BitConverter.UInt32BitsToSingle(0x7FC0_0000), BitConverter.UInt32BitsToSingle(0xFFC0_0000),
            BitConverter.UInt32BitsToSingle(0x7F80_0001), BitConverter.UInt32BitsToSingle(0xFF80_0001),
        };
        for (int c = 1; c < v.Length; c++)
        {
            points.Add(_thresholds[c]);
            points.Add(MathF.BitDecrement(_thresholds[c]));
        }

        foreach (float x in points)
        {
            if (QuantizeByLinearRule(x) != QuantizeByRank(x))
            {
                throw new InvalidOperationException($"The {Name} linear rule gives {x:R} the code {QuantizeByLinearRule(x)}, the definition {QuantizeByRank(x)}.");
            }
        }
    }
}
