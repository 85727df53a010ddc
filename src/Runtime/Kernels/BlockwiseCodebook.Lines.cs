using System;
using System.Collections.Generic;

namespace OptGen.Kernels;

/// <content>
/// The 8-bit maps' codes by arithmetic instead of a search, for the AVX-512 quantizer of <see cref="BlockwiseBlock"/>:
/// piecewise-linear code lines, and the proof (run when the codebook is built) that they give
/// <see cref="QuantizeByRank"/>'s code wherever they do not declare themselves ambiguous.
/// </content>
/// <remarks>
/// <para>The dynamic map is, per decade, equally spaced codes (the midpoints of a linspace), so inside one
/// <i>run</i> of equally spaced codes the code of a magnitude y is floor(a·y + b) up to rounding. The positive codes
/// are cut into such runs (the map's 0 and 1 are runs of one code); a run's line goes through its inner decision
/// thresholds (least squares), and y is first lowered to the run's cap (the line's last code + ½), because the run's
/// last cell is wider than its spacing (half of it belongs to the next, coarser decade).</para>
/// <para>The kernel finds the run of y from its float exponent: each slot of two octaves [2^2e, 2^(2e+2)) holds at
/// most one run start (decades are 3.3 octaves apart), so a 16-entry table (slot = biased exponent / 2 mod 16,
/// magnitudes raised to 2^−31 and clamped below 2) gives, in one word, the run at the slot's start and the run start
/// inside it, and one compare decides between the two (a 16-entry table is one single-source register permute, no
/// copy of the table). Negative values use their own run starts (torchao's ties go up, which for a negative value
/// is toward zero, so the negative thresholds are not exactly the positive ones mirrored) and their own lines
/// (table entries 16 + line): the mirrored line, or a constant where every magnitude of the run has one code
/// (bitsandbytes' sign fix near 0). An unsigned map's kernel does no sign work at all: it clamps the float's bits as
/// an int, which raises every negative value (−0, −∞, a negative NaN) to the lowest slot, whose code, 0, is theirs,
/// and lowers a positive NaN or ∞ to the clamp, as the definition does; and it caps u at the run's last code + ½
/// instead of capping y (one table fewer: the signed kernel's cap depends on the sign, this one would not).</para>
/// <para>u = fma(a, min(y, cap), b) (signed) or min(fma(a, y, b), top) (unsigned) in float32; the code is trunc(u)
/// unless u is within <see cref="LineMargin"/> of an integer (or NaN), in which case the kernel decides those values by the exact search. Built only for 8-bit maps (the 4-bit
/// search is already short). <see cref="VerifyLines"/> proves the rule for every float: u is monotone in y inside a
/// run, so on each interval where trunc(u) is one integer and u is not ambiguous the exact code, which is monotone
/// too, is checked at the interval's two ends.</para>
/// </remarks>
public sealed partial class BlockwiseCodebook
{
    /// <summary>A line value within this of an integer is ambiguous: the exact search decides it.</summary>
    internal const float LineMargin = 1f / 8192;

    /// <summary>The biased exponent of slot 0's first octave: smaller magnitudes are raised to 2^(this − 127), which has their code.</summary>
    internal const int LineFloorExponent = 96;

    private const int Slots = 16;
    private const int NegativeLines = 16;

    /// <summary>The bits of a slot entry below its line: the run start's exponent bit 0 and mantissa (the slot gives the rest).</summary>
    internal const uint SlotLow = 0xFF_FFFF;

    private uint[]? _slotEntry;
    private float[]? _lineSlope;
    private float[]? _lineOffset;
    private float[]? _lineCap;
    private float[]? _lineTop;

    /// <summary>Whether the code lines were built (8-bit maps).</summary>
    internal bool HasLines => _lineSlope is not null;

    /// <summary>
    /// Per slot (two octaves: biased exponent / 2 mod 16), positive values at 0 … 15, negative ones at 16 … 31: the run
    /// start inside the slot and the run, in one word (pinned). The low 24 bits are the start's exponent bit 0 and
    /// mantissa (the slot gives the exponent's other bits), the bits above a line r: the value's line is
    /// r + [y ≥ start]. Where no run starts inside the slot the low bits are 0 (every y of the slot is ≥ that start)
    /// and r is the slot's line − 1; lines are numbered from 1 (run j is line j + 1).
    /// </summary>
    internal uint[] SlotEntry => _slotEntry!;

    /// <summary>Per line (run j is line j + 1 for positive values, 16 + j + 1 for negative ones): a (pinned, 32 floats).</summary>
    internal float[] LineSlope => _lineSlope!;

    /// <summary>Per line: b (pinned, 32 floats).</summary>
    internal float[] LineOffset => _lineOffset!;

    /// <summary>Per line of a signed map: the magnitude y is lowered to before the line (pinned, 16 floats).</summary>
    internal float[] LineCap => _lineCap!;

    /// <summary>Per line of an unsigned map: the value u is lowered to (the run's last code + ½; pinned, 16 floats).</summary>
    internal float[] LineTop => _lineTop!;

    /// <summary>
    /// The line rule for one value, as the AVX-512 kernel computes it: the code, or −1 where the value is ambiguous
    /// (the kernel then uses the exact search). For tests and the proof; the kernel is the fast form.
    /// </summary>
    internal int QuantizeByLines(float normalized)
    {
        uint bits = BitConverter.SingleToUInt32Bits(normalized);
        const uint floor = (uint)LineFloorExponent << 23;
        if (!IsSigned)
        {
            // The unsigned kernel clamps the bits as an int: every negative value (−0, −∞, a negative NaN) is raised
            // to the lowest slot, a positive NaN or ∞ lowered to just below 2, as the definition's clamp does.
            return LineCode((uint)Math.Clamp((int)bits, (int)floor, (int)MagnitudeClamp), negative: false);
        }

        if (float.IsNaN(normalized))
        {
            return -1; // the signed kernel's y, so its u, is NaN
        }

        return LineCode(Math.Max(Math.Min(bits & 0x7FFF_FFFF, MagnitudeClamp), floor), (int)bits < 0);
    }

    /// <summary>The line rule for the magnitude bits <paramref name="y"/> (in [2^−31, 2)) of the given sign: the code, or −1 when ambiguous.</summary>
    private int LineCode(uint y, bool negative)
    {
        float u = LineValue(y, negative);
        float fraction = u - MathF.Round(u, MidpointRounding.ToEven);
        return Math.Abs(fraction) <= LineMargin ? -1 : (int)u;
    }

    /// <summary>
    /// u of magnitude bits <paramref name="y"/>: the slot entry gives the run start (with y's other exponent bits) and
    /// the line r + [y ≥ start]; then fma(a, min(y, cap), b) for a signed map, min(fma(a, y, b), top) for an unsigned one.
    /// </summary>
    private float LineValue(uint y, bool negative)
    {
        uint entry = _slotEntry![((int)(y >> 24) & (Slots - 1)) + (negative ? Slots : 0)];
        float magnitude = BitConverter.UInt32BitsToSingle(y);
        float start = BitConverter.UInt32BitsToSingle((entry & SlotLow) | (y & ~SlotLow));
        int line = (int)(entry >> 24) + (magnitude >= start ? 1 : 0);
        if (!IsSigned)
        {
            return Math.Min(MathF.FusedMultiplyAdd(_lineSlope![line], magnitude, _lineOffset![line]), _lineTop![line]);
        }

        int signed = line + (negative ? NegativeLines : 0);
        return MathF.FusedMultiplyAdd(_lineSlope![signed], Math.Min(magnitude, _lineCap![line]), _lineOffset![signed]);
    }

    /// <summary>
    /// Builds the code lines of an 8-bit map and proves them (see the remarks); throws if either fails.
    /// <paramref name="decades"/>: the map's codes per decade on one side (<see cref="DecadeSizes"/>).
    /// </summary>
    private void BuildLines(int[] decades)
    {
        float[] v = _values;
        int n = v.Length;
        int zero = IsSigned ? ZeroCode : 0; // the code of magnitude 0

        // Runs of equally spaced codes from the zero code up: each decade, and the map's 1. The zero code is a run
        // of its own, except in a signed map, where it joins the first decade: a negative value there has one code
        // either way (bitsandbytes' sign fix), so the negative side needs no run start between them.
        var firsts = new List<int> { zero };
        int next = zero + 1 + (IsSigned ? decades[0] : 0);
        for (int d = IsSigned ? 1 : 0; d < decades.Length; d++)
        {
            firsts.Add(next);
            next += decades[d];
        }

        firsts.Add(next);
        if (next != n - 1)
        {
            throw new InvalidOperationException($"The {Name} code map is not its decades.");
        }

        int runs = firsts.Count;
        if (runs + 1 > NegativeLines)
        {
            throw new InvalidOperationException($"The {Name} code map has {runs} runs of equally spaced codes; the line tables hold {NegativeLines - 1}.");
        }

        _lineSlope = GC.AllocateArray<float>(2 * NegativeLines, pinned: true);
        _lineOffset = GC.AllocateArray<float>(2 * NegativeLines, pinned: true);
        _lineCap = GC.AllocateArray<float>(NegativeLines, pinned: true);
        _lineTop = GC.AllocateArray<float>(NegativeLines, pinned: true);
        for (int j = 0; j < NegativeLines; j++)
        {
            _lineCap[j] = _lineTop[j] = float.PositiveInfinity;
            _lineOffset[j] = _lineOffset[NegativeLines + j] = 0.5f;
        }

        // Positive starts are thresholds; negative starts: the smallest magnitude whose code is the run's mirror.
        var positiveStarts = new float[runs];
        var negativeStarts = new float[runs];
        for (int j = 0; j < runs; j++)
        {
            int f = firsts[j];
            int l = j + 1 < runs ? firsts[j + 1] - 1 : n - 1;
            int line = j + 1;
            positiveStarts[j] = j == 0 ? 0f : _thresholds[f];
            negativeStarts[j] = j == 0 || !IsSigned ? (j == 0 ? 0f : float.PositiveInfinity) : SmallestMagnitude(y => QuantizeByRank(-y) <= QuantizeByRank(-v[f]));
            if (l > f)
            {
                double a = (l - f) / ((double)v[l] - v[f]);
                double b = 0;
                for (int c = f + 1; c <= l; c++)
                {
                    b += c - (a * _thresholds[c]);
                }

                b /= l - f;
                _lineSlope[line] = (float)a;
                _lineOffset[line] = (float)b;
                _lineCap[line] = (float)((l + 0.5 - b) / a);
                _lineTop[line] = l + 0.5f;
            }
            else
            {
                _lineOffset[line] = f + 0.5f;
            }

            // Negative values: a constant where the run's magnitudes all have one code, else the mirrored line
            // floor(K − u) with K from the run's middle code (the negative code of v[c] plus c plus 1).
            int negativeFirst = QuantizeByRank(-Math.Max(v[f], 0f)), negativeLast = QuantizeByRank(-v[l]);
            if (negativeFirst == negativeLast || l == f)
            {
                _lineOffset[NegativeLines + line] = negativeFirst + 0.5f;
            }
            else
            {
                int middle = (f + l) / 2;
                _lineSlope[NegativeLines + line] = -_lineSlope[line];
                _lineOffset[NegativeLines + line] = QuantizeByRank(-v[middle]) + middle + 1 - _lineOffset[line];
            }
        }

        // Slots of two octaves (decades are 3.3 octaves apart, so at most one run starts inside one): the run at the
        // slot's start and the one run start inside it (per sign), in one word each.
        _slotEntry = GC.AllocateArray<uint>(2 * Slots, pinned: true);
        for (int slot = 0; slot < Slots; slot++)
        {
            float low = BitConverter.UInt32BitsToSingle((uint)(LineFloorExponent + (2 * slot)) << 23);
            float high = 4 * low;
            int run = 0;
            while (run + 1 < runs && positiveStarts[run + 1] <= low)
            {
                run++;
            }

            _slotEntry[slot] = Entry(run, Split(positiveStarts, run, low, high));
            _slotEntry[Slots + slot] = Entry(run, Split(negativeStarts, run, low, high));
        }

        VerifyLines();
    }

    /// <summary>The slot entry of a slot whose start is in <paramref name="run"/>, with the next run starting at <paramref name="split"/> inside it (+∞: none).</summary>
    private static uint Entry(int run, float split) => float.IsPositiveInfinity(split)
        ? (uint)run << 24                                                // line run + 1 for every y (low bits 0)
        : ((uint)(run + 1) << 24) | (BitConverter.SingleToUInt32Bits(split) & SlotLow); // line run + 1, or run + 2 from the split

    /// <summary>The run start after <paramref name="run"/> when it lies inside [low, high) (+∞ when none); throws when two do, or when the sides disagree on the run at <paramref name="low"/>.</summary>
    private float Split(float[] starts, int run, float low, float high)
    {
        if (run + 1 < starts.Length && starts[run + 1] <= low && starts[run + 1] != float.PositiveInfinity)
        {
            throw new InvalidOperationException($"The {Name} code map's run starts differ by sign across a slot start.");
        }

        if (run + 1 >= starts.Length || starts[run + 1] >= high)
        {
            return float.PositiveInfinity;
        }

        if (run + 2 < starts.Length && starts[run + 2] < high)
        {
            throw new InvalidOperationException($"The {Name} code map has two runs starting in the slot of {low}.");
        }

        return starts[run + 1];
    }

    /// <summary>The smallest magnitude in [0, 2) for which the monotone <paramref name="holds"/> is true.</summary>
    private static float SmallestMagnitude(Func<float, bool> holds)
    {
        uint lo = 0, hi = MagnitudeClamp;
        while (lo < hi)
        {
            uint mid = lo + ((hi - lo) / 2);
            if (holds(BitConverter.UInt32BitsToSingle(mid)))
            {
                hi = mid;
            }
            else
            {
                lo = mid + 1;
            }
        }

        return BitConverter.UInt32BitsToSingle(lo);
    }

    /// <summary>
    /// Proves <see cref="QuantizeByLines"/> against <see cref="QuantizeByRank"/> for every float32 input: magnitudes
    /// below the lowest slot share one code with 2^−31, those above the clamp are clamped by both; inside a slot
    /// part (one run, one sign) u is monotone in the magnitude and so is the exact code, so checking both ends of each
    /// maximal interval where the line gives one unambiguous code covers every value in it.
    /// </summary>
    private void VerifyLines()
    {
        const uint floor = (uint)LineFloorExponent << 23;
        if (!IsSigned)
        {
            // Every negative value of an unsigned map takes the line code of the lowest slot, every positive NaN that of
            // the clamp (see QuantizeByLines): the exact codes of −∞, −0 and the NaNs (the definition clamps a NaN's
            // magnitude like any other) must be those, and −∞ and −0 bound every negative value's.
            int raised = LineCode(floor, negative: false), lowered = LineCode(MagnitudeClamp, negative: false);
            float positiveNaN = BitConverter.UInt32BitsToSingle(0x7FC0_0000), negativeNaN = BitConverter.UInt32BitsToSingle(0xFFC0_0000);
            if (raised < 0 || QuantizeByRank(float.NegativeInfinity) != raised || QuantizeByRank(-0f) != raised || QuantizeByRank(negativeNaN) != raised
                || lowered < 0 || QuantizeByRank(positiveNaN) != lowered || QuantizeByRank(float.PositiveInfinity) != lowered)
            {
                throw new InvalidOperationException($"The {Name} code lines do not give the negative and non-finite values their code.");
            }
        }

        foreach (bool negative in IsSigned ? (ReadOnlySpan<bool>)[false, true] : [false])
        {
            float sign = negative ? -1f : 1f;
            if (QuantizeByRank(sign * 0f) != QuantizeByRank(sign * BitConverter.UInt32BitsToSingle(floor)))
            {
                throw new InvalidOperationException($"The {Name} code map has a threshold below the lines' lowest octave.");
            }

            for (int slot = 0; slot < Slots; slot++)
            {
                uint low = (uint)(LineFloorExponent + (2 * slot)) << 23;
                uint high = Math.Min(low + (2u << 23) - 1, MagnitudeClamp);
                uint splitBits = low | (_slotEntry![slot + (negative ? Slots : 0)] & SlotLow);
                VerifyPart(low, Math.Min(high, splitBits - 1), negative);
                if (splitBits <= high)
                {
                    VerifyPart(splitBits, high, negative);
                }
            }
        }
    }

    /// <summary>Checks one monotone part [<paramref name="first"/>, <paramref name="last"/>] (magnitude bits) of one sign.</summary>
    private void VerifyPart(uint first, uint last, bool negative)
    {
        if (first > last)
        {
            return;
        }

        float Line(uint bits) => LineValue(bits, negative);

        float sign = negative ? -1f : 1f;
        bool rising = Line(last) >= Line(first);
        float from = Math.Min(Line(first), Line(last)), to = Math.Max(Line(first), Line(last));
        if (from <= -1f || to >= 256f)
        {
            throw new InvalidOperationException($"The {Name} code lines leave the codes between {BitConverter.UInt32BitsToSingle(first)} and {BitConverter.UInt32BitsToSingle(last)}.");
        }

        for (int k = (int)MathF.Floor(from); k <= (int)MathF.Floor(to); k++)
        {
            // The values whose line value lies in (k + margin, k + 1 − margin): one interval of magnitudes.
            float lower = k + LineMargin, upper = k + 1 - LineMargin;
            uint a = First(first, last, bits => rising ? Line(bits) > lower : Line(bits) < upper);
            uint b = Last(first, last, bits => rising ? Line(bits) < upper : Line(bits) > lower);
            if (a > b || a > last || b < first)
            {
                continue;
            }

            foreach (uint bits in (ReadOnlySpan<uint>)[a, b])
            {
                float x = sign * BitConverter.UInt32BitsToSingle(bits);
                int line = LineCode(bits, negative);
                if (line < 0 || line != QuantizeByRank(x) || QuantizeByLines(x) != line)
                {
                    throw new InvalidOperationException($"The {Name} code lines give {x:R} the code {line}, the definition {QuantizeByRank(x)}.");
                }
            }
        }
    }

    /// <summary>The first bits in [first, last] where the monotone <paramref name="holds"/> turns true (last + 1 when never).</summary>
    private static uint First(uint first, uint last, Func<uint, bool> holds)
    {
        uint lo = first, hi = last + 1;
        while (lo < hi)
        {
            uint mid = lo + ((hi - lo) / 2);
            if (holds(mid))
            {
                hi = mid;
            }
            else
            {
                lo = mid + 1;
            }
        }

        return lo;
    }

    /// <summary>The last bits in [first, last] where the monotone <paramref name="holds"/> (true, then false) is still true (first − 1 when never).</summary>
    private static uint Last(uint first, uint last, Func<uint, bool> holds) => First(first, last, bits => !holds(bits)) - 1;
}
