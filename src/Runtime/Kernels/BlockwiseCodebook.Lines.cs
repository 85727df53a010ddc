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
/// magnitudes raised to 2^−31 and clamped below 2, both as integers on the float's magnitude bits) gives, in one
/// word, the run at the slot's start and the run start inside it. The word is (H &lt;&lt; 24) | S with S the start's
/// low 24 bits (exponent bit 0 and mantissa; the slot gives the rest); adding the complement of y's low 24 bits
/// carries into bit 24 exactly when y is below the start, so bits 24 … 28 of the sum are the line's table index:
/// no compare, no mask register. Line l (1 … 15) of a positive value is at index 16 − l, of a negative value at
/// 32 − l (H = 15 − r or 31 − r for the slot's run r): the tables are ordered for it, and a 16-entry table
/// indexed by the low four bits serves both signs. Negative values use their own run starts (torchao's ties go up,
/// which for a negative value is toward zero, so the negative thresholds are not exactly the positive ones mirrored)
/// and their own lines: the mirrored line, or a constant where every magnitude of the run has one code
/// (bitsandbytes' sign fix near 0). An unsigned map's kernel does no sign work at all: it clamps the float's bits as
/// an int, which raises every negative value (−0, −∞, a negative NaN) to the lowest slot, whose code, 0, is theirs,
/// and lowers a positive NaN or ∞ to the clamp, as the definition does; and it caps the line value at the run's last
/// code + ½ instead of capping y (one table fewer). A signed map's kernel clamps the magnitude bits the same way, so a
/// NaN or ±∞ takes the code of ±(just below 2), as the definition's clamp gives it.</para>
/// <para>The line value is computed biased: w = fma(a, min(y, cap), b + <see cref="LineBias"/>) (signed) or
/// min(fma(a, y, b + bias), top + bias) (unsigned) in float32, with the bias 256 + 2^−15 folded into the tables.
/// w lies in [256, 512), where a float's bits are 0x4380_0000 + 2^15·(w − 256): bits 15 … 22 are the code and the
/// low 15 bits the fraction of the line value (in units of 2^−15) plus 1; the code stands unless that is at most
/// <see cref="LineAmbiguity"/> (the line value within 2^−15 of an integer), in which case the kernel decides those
/// values by the exact search. Built only for 8-bit maps (the 4-bit search is already short).
/// <see cref="VerifyLines"/> proves the rule for every float: w is monotone in y inside a run, so on each interval
/// where w's bits give one code and no ambiguity the exact code, which is monotone too, is checked at the interval's
/// two ends.</para>
/// </remarks>
public sealed partial class BlockwiseCodebook
{
    /// <summary>What the line tables add to the line value: 256 puts every code in one binade of floats, 2^−15 the fraction's margin above 0.</summary>
    internal const float LineBias = 256f + (1f / 32768);

    /// <summary>Line values whose fraction bits (the low 15 bits of the biased value) are at most this are ambiguous: within 2^−15 of an integer (the smallest margin the construction-time proof accepts: with none it finds values whose line code is not the definition's).</summary>
    internal const uint LineAmbiguity = 2;

    /// <summary>The bits of the biased line values 256 … 512 (0x4380_0000 … 0x43FF_FFFF) share these top nine.</summary>
    private const uint LineBinade = 0x4380_0000;

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
    /// start inside the slot and the run, in one word (pinned): (H &lt;&lt; 24) | S, S the start's exponent bit 0 and
    /// mantissa (the slot gives the exponent's other bits). The line table index of y is bits 24 … 28 of the word plus
    /// (~y &amp; <see cref="SlotLow"/>): H, plus one where y is below the start. Where no run starts inside the slot S
    /// is 0 (no y is below it).
    /// </summary>
    internal uint[] SlotEntry => _slotEntry!;

    /// <summary>Per line table index (<see cref="LineIndex"/>: 16 − l for positive values' line l, 32 − l for negative ones): a (pinned, 32 floats).</summary>
    internal float[] LineSlope => _lineSlope!;

    /// <summary>Per line table index: b + <see cref="LineBias"/> (pinned, 32 floats).</summary>
    internal float[] LineOffset => _lineOffset!;

    /// <summary>Per line of a signed map, at the index's low four bits: the magnitude y is lowered to before the line (pinned, 16 floats).</summary>
    internal float[] LineCap => _lineCap!;

    /// <summary>Per line of an unsigned map, at the index's low four bits: the biased value w is lowered to (the run's last code + ½ + <see cref="LineBias"/>; pinned, 16 floats).</summary>
    internal float[] LineTop => _lineTop!;

    /// <summary>The table index of line l (1 … 15) for values of the given sign.</summary>
    private static int LineIndex(int line, bool negative) => (negative ? 32 : 16) - line;

    /// <summary>
    /// The line rule for one value, as the AVX-512 kernel computes it: the code, or −1 where the value is ambiguous
    /// (the kernel then uses the exact search). For tests and the proof; the kernel is the fast form.
    /// </summary>
    internal int QuantizeByLines(float normalized)
    {
        uint bits = BitConverter.SingleToUInt32Bits(normalized);
        if (!IsSigned)
        {
            // The unsigned kernel clamps the bits as an int: every negative value (−0, −∞, a negative NaN) is raised
            // to the lowest slot, a positive NaN or ∞ lowered to just below 2, as the definition's clamp does.
            return LineCode(ClampedBits((int)bits), negative: false);
        }

        // The magnitude bits clamped the same way (a NaN or ±∞ to just below 2, as the definition clamps them).
        return LineCode(ClampedBits((int)(bits & 0x7FFF_FFFF)), (int)bits < 0);
    }

    /// <summary>The kernels' clamp of a float's bits, as an int, to [2^−31, just below 2].</summary>
    private static uint ClampedBits(int bits) => (uint)Math.Clamp(bits, LineFloorExponent << 23, (int)MagnitudeClamp);

    /// <summary>The line rule for the magnitude bits <paramref name="y"/> (in [2^−31, 2)) of the given sign: the code, or −1 when ambiguous.</summary>
    private int LineCode(uint y, bool negative) => CodeOfLineValue(BitConverter.SingleToUInt32Bits(LineValue(y, negative)));

    /// <summary>The code in the bits of a biased line value (bits 15 … 22), or −1 when its fraction bits are at most <see cref="LineAmbiguity"/>.</summary>
    private static int CodeOfLineValue(uint w) => (w & 0x7FFF) <= LineAmbiguity ? -1 : (int)((w >> 15) & 0xFF);

    /// <summary>
    /// The biased line value w of magnitude bits <paramref name="y"/>: the slot entry plus y's complemented low bits
    /// gives the line's table index, then fma(a, min(y, cap), b) for a signed map, min(fma(a, y, b), top) for an
    /// unsigned one (b and top biased), in the kernel's operations.
    /// </summary>
    private float LineValue(uint y, bool negative)
    {
        uint entry = _slotEntry![((int)(y >> 24) & (Slots - 1)) + (negative ? Slots : 0)];
        int index = (int)(unchecked(entry + (~y & SlotLow)) >> 24) & 31;
        float magnitude = BitConverter.UInt32BitsToSingle(y);
        if (!IsSigned)
        {
            index &= Slots - 1;
            return Math.Min(MathF.FusedMultiplyAdd(_lineSlope![index], magnitude, _lineOffset![index]), _lineTop![index]);
        }

        return MathF.FusedMultiplyAdd(_lineSlope![index], Math.Min(magnitude, _lineCap![index & (Slots - 1)]), _lineOffset![index]);
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

        // By line l (positive values at l, negative ones at 16 + l), unbiased; laid out by table index below.
        var slope = new float[2 * NegativeLines];
        var offset = new float[2 * NegativeLines];
        var cap = new float[NegativeLines];
        var top = new float[NegativeLines];
        for (int j = 0; j < NegativeLines; j++)
        {
            cap[j] = top[j] = float.PositiveInfinity;
            offset[j] = offset[NegativeLines + j] = 0.5f;
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
                slope[line] = (float)a;
                offset[line] = (float)b;
                cap[line] = (float)((l + 0.5 - b) / a);
                top[line] = l + 0.5f;
            }
            else
            {
                offset[line] = f + 0.5f;
            }

            // Negative values: a constant where the run's magnitudes all have one code, else the mirrored line
            // floor(K − u) with K from the run's middle code (the negative code of v[c] plus c plus 1).
            int negativeFirst = QuantizeByRank(-Math.Max(v[f], 0f)), negativeLast = QuantizeByRank(-v[l]);
            if (negativeFirst == negativeLast || l == f)
            {
                offset[NegativeLines + line] = negativeFirst + 0.5f;
            }
            else
            {
                int middle = (f + l) / 2;
                slope[NegativeLines + line] = -slope[line];
                offset[NegativeLines + line] = QuantizeByRank(-v[middle]) + middle + 1 - offset[line];
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

            _slotEntry[slot] = Entry(run, Split(positiveStarts, run, low, high), negative: false);
            _slotEntry[Slots + slot] = Entry(run, Split(negativeStarts, run, low, high), negative: true);
        }

        // The tables by line index (LineIndex), the offsets and tops biased.
        _lineSlope = GC.AllocateArray<float>(2 * NegativeLines, pinned: true);
        _lineOffset = GC.AllocateArray<float>(2 * NegativeLines, pinned: true);
        _lineCap = GC.AllocateArray<float>(NegativeLines, pinned: true);
        _lineTop = GC.AllocateArray<float>(NegativeLines, pinned: true);
        for (int line = 1; line < NegativeLines; line++)
        {
            foreach (bool negative in (ReadOnlySpan<bool>)[false, true])
            {
                int index = LineIndex(line, negative), from = line + (negative ? NegativeLines : 0);
                _lineSlope[index] = slope[from];
                _lineOffset[index] = offset[from] + LineBias;
            }

            _lineCap[LineIndex(line, negative: false)] = cap[line];
            _lineTop[LineIndex(line, negative: false)] = top[line] + LineBias;
        }

        VerifyLines();
    }

    /// <summary>
    /// The slot entry of a slot whose start is in <paramref name="run"/>, with the next run starting at
    /// <paramref name="split"/> inside it (+∞: none): line run + 1 below the split (or everywhere), run + 2 from it;
    /// H = LineIndex(run + 2), which the carry of a y below the split raises to LineIndex(run + 1).
    /// </summary>
    private static uint Entry(int run, float split, bool negative) => float.IsPositiveInfinity(split)
        ? (uint)LineIndex(run + 1, negative) << 24                                                                  // low bits 0: no carry
        : ((uint)LineIndex(run + 2, negative) << 24) | (BitConverter.SingleToUInt32Bits(split) & SlotLow);

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
    /// below the lowest slot share one code with 2^−31, those above the clamp (NaNs and ±∞ among them) are clamped by
    /// both; inside a slot part (one run, one sign) w is monotone in the magnitude and so is the exact code, so
    /// checking both ends of each maximal interval where w's bits give one unambiguous code covers every value in it.
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
        else
        {
            // A signed map's kernel clamps NaNs and ±∞ to ±(just below 2), as the definition does: their codes are the
            // clamp's, which the top slot's parts below cover; checked here directly as well.
            foreach (uint bits in (ReadOnlySpan<uint>)[0x7F80_0000, 0xFF80_0000, 0x7FC0_0000, 0xFFC0_0000, 0x7F80_0001, 0xFFFF_FFFF])
            {
                float x = BitConverter.UInt32BitsToSingle(bits);
                int line = QuantizeByLines(x);
                if (line >= 0 && line != QuantizeByRank(x))
                {
                    throw new InvalidOperationException($"The {Name} code lines give {bits:X8} the code {line}, the definition {QuantizeByRank(x)}.");
                }
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

        // The biased line value's bits: monotone in w, which is monotone in y inside the part (one line, a min with a
        // constant, one correctly rounded fma).
        uint W(uint bits) => BitConverter.SingleToUInt32Bits(LineValue(bits, negative));

        float sign = negative ? -1f : 1f;
        bool rising = W(last) >= W(first);
        uint from = Math.Min(W(first), W(last)), to = Math.Max(W(first), W(last));
        if ((from & ~0x7F_FFFFu) != LineBinade || (to & ~0x7F_FFFFu) != LineBinade)
        {
            throw new InvalidOperationException($"The {Name} code lines leave [256, 512) between {BitConverter.UInt32BitsToSingle(first)} and {BitConverter.UInt32BitsToSingle(last)}.");
        }

        for (uint k = (from >> 15) & 0xFF; k <= ((to >> 15) & 0xFF); k++)
        {
            // The values whose w bits lie in [code k's bits + ambiguity + 1, code k + 1's bits − 1]: one interval.
            uint lower = LineBinade + (k << 15) + LineAmbiguity + 1, upper = LineBinade + (k << 15) + 0x7FFF;
            uint a = First(first, last, bits => rising ? W(bits) >= lower : W(bits) <= upper);
            uint b = Last(first, last, bits => rising ? W(bits) <= upper : W(bits) >= lower);
            if (a > b || a > last || b < first)
            {
                continue;
            }

            foreach (uint bits in (ReadOnlySpan<uint>)[a, b])
            {
                float x = sign * BitConverter.UInt32BitsToSingle(bits);
                int line = LineCode(bits, negative);
                if (line != (int)k || line != QuantizeByRank(x) || QuantizeByLines(x) != line)
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
