using System;
using System.Collections.Generic;
using System.Linq;

namespace OptGen.Testing;

/// <summary>The code maps and rounding of blockwise state, written from bitsandbytes' and torchao's definitions.</summary>
internal static class ReferenceMaps
{
    /// <summary>create_dynamic_map(signed, max_exponent_bits, total_bits) with PyTorch's float32 arithmetic.</summary>
    public static float[] Dynamic(bool signed, int exponentBits, int totalBits)
    {
        var data = new List<float>();
        for (int i = 0; i < exponentBits; i++)
        {
            int items = signed ? (1 << (i + totalBits - 1 - exponentBits)) + 1 : (1 << (i + totalBits - exponentBits)) + 1;
            float step = (1f - 0.1f) / (items - 1);
            float[] b = [.. Enumerable.Range(0, items).Select(k => k < items / 2 ? 0.1f + (step * k) : 1f - (step * (items - 1 - k)))];
            float scale = (float)Math.Pow(10, i - exponentBits + 1);
            for (int k = 0; k + 1 < items; k++)
            {
                data.Add(scale * ((b[k] + b[k + 1]) / 2f));
                if (signed)
                {
                    data.Add(-scale * ((b[k] + b[k + 1]) / 2f));
                }
            }
        }

        data.Add(0);
        data.Add(1);
        data.Sort();
        return [.. data];
    }

    /// <summary>
    /// The map of a state plane: 8-bit, bitsandbytes' dynamic map (7 exponent bits), signed or unsigned; 4-bit,
    /// torchao's signed dynamic map (3 exponent bits) or its linear unsigned map k/16, k = 1 … 16.
    /// </summary>
    public static float[] For(int bits, bool signed) => bits == 8
        ? Dynamic(signed, 7, 8)
        : signed ? Dynamic(true, 3, 4) : [.. Enumerable.Range(1, 16).Select(k => k / 16f)];

    /// <summary>argmin |map[c] − x| in double, ties to the larger code; with <paramref name="keepSign"/>, bitsandbytes' sign fix.</summary>
    public static int Nearest(IReadOnlyList<float> map, double x, bool keepSign)
    {
        int best = 0;
        for (int c = 1; c < map.Count; c++)
        {
            if (Math.Abs(map[c] - x) <= Math.Abs(map[best] - x))
            {
                best = c;
            }
        }

        if (keepSign && float.IsNegative(map[best]) != double.IsNegative(x))
        {
            best += x > 0 ? 1 : -1;
        }

        return best;
    }

    /// <summary><see cref="Nearest"/> by bisection over the sorted map (the same answer as the linear argmin, quicker).</summary>
    public static int NearestFast(IReadOnlyList<float> map, double x, bool keepSign)
    {
        int lo = 0, hi = map.Count - 1;
        while (hi - lo > 1)
        {
            int mid = (lo + hi) / 2;
            if (map[mid] <= x)
            {
                lo = mid;
            }
            else
            {
                hi = mid;
            }
        }

        int best = x - map[lo] >= map[hi] - x ? hi : lo;
        if (x < map[0])
        {
            best = 0;
        }

        if (keepSign && float.IsNegative(map[best]) != double.IsNegative(x))
        {
            best += x > 0 ? 1 : -1;
        }

        return best;
    }
}

/// <summary>
/// A rule with blockwise-quantized state, in double, for one tensor: per block, dequantize every plane
/// (map[code]·absmax), run the rule's element update (written from its formula), absmax = max |value| per plane,
/// code = the nearest code of value/absmax (ties up; the signed 8-bit map keeps the sign). Independent of the kernels.
/// </summary>
internal sealed class QuantizedReference
{
    private readonly int _n;
    private readonly int _block;
    private readonly int _bits;
    private readonly float[][] _maps;
    private readonly bool[] _keepSign;
    private readonly double[][] _absmax;
    private readonly ElementUpdate _update;

    /// <summary>Creates zero state of <paramref name="n"/> elements; <paramref name="signed"/> per plane.</summary>
    public QuantizedReference(int n, int bits, bool[] signed, ElementUpdate update)
    {
        _n = n;
        _bits = bits;
        _block = bits == 8 ? 256 : 128;
        _maps = [.. signed.Select(s => ReferenceMaps.For(bits, s))];
        _keepSign = [.. signed.Select(s => bits == 8 && s)];
        _update = update;
        int blocks = (n + _block - 1) / _block;
        _absmax = [.. signed.Select(_ => new double[blocks])];

        // Zero state: absmax 0, and any code (the code of 0).
        Codes = [.. signed.Select((_, k) => Enumerable.Repeat(ReferenceMaps.Nearest(_maps[k], 0, _keepSign[k]), n).ToArray())];
    }

    /// <summary>One element's update in double: <paramref name="p"/> and the dequantized <paramref name="state"/> in place.</summary>
    public delegate void ElementUpdate(ref double p, double g, double[] state, int t);

    public int[][] Codes { get; }

    public double[][] Absmax => _absmax;

    /// <summary>Adam (PyTorch's defaults: lr 1e-3, β 0.9/0.999, ε 1e-8, power bias correction): m signed, v unsigned.</summary>
    public static QuantizedReference Adam(int n, int bits) => new(n, bits, [true, false], static (ref double p, double g, double[] s, int t) =>
    {
        const double lr = 1e-3, b1 = 0.9, b2 = 0.999, eps = 1e-8;
        double bc1 = 1 - Math.Pow(b1, t), bc2 = 1 - Math.Pow(b2, t);
        s[0] = (b1 * s[0]) + ((1 - b1) * g);
        s[1] = (b2 * s[1]) + ((1 - b2) * g * g);
        p -= lr * (s[0] / bc1) / (Math.Sqrt(s[1] / bc2) + eps);
    });

    /// <summary>The codes of <paramref name="packed"/> (8-bit: one per byte; 4-bit: two per byte, the even element high).</summary>
    public static int[] Unpack(byte[] packed, int n, int bits) =>
        [.. Enumerable.Range(0, n).Select(i => bits == 8 ? packed[i] : (i % 2 == 0 ? packed[i / 2] >> 4 : packed[i / 2] & 0xF))];

    /// <summary>Takes a kernel's codes and absmax (as stored) as this reference's state.</summary>
    public void Load(byte[][] codes, float[][] absmax)
    {
        for (int k = 0; k < Codes.Length; k++)
        {
            Unpack(codes[k], _n, _bits).CopyTo(Codes[k], 0);
            for (int b = 0; b < _absmax[k].Length; b++)
            {
                _absmax[k][b] = absmax[k][b];
            }
        }
    }

    /// <summary>The dequantized value of element <paramref name="i"/> of plane <paramref name="plane"/>.</summary>
    public double Value(int plane, int i) => _maps[plane][Codes[plane][i]] * _absmax[plane][i / _block];

    /// <summary>Every plane's values, dequantized (map[code]·absmax), in double.</summary>
    public double[][] Dequantized() =>
        [.. Enumerable.Range(0, Codes.Length).Select(k => Enumerable.Range(0, _n).Select(i => Value(k, i)).ToArray())];

    /// <summary>
    /// Stores <paramref name="values"/> (one array per plane) quantized: per block, absmax = max |value|, and each
    /// code the nearest code of value/absmax (ties up; the signed 8-bit map keeps the sign).
    /// </summary>
    public void Requantize(double[][] values)
    {
        for (int k = 0; k < Codes.Length; k++)
        {
            for (int start = 0, b = 0; start < _n; start += _block, b++)
            {
                int count = Math.Min(_block, _n - start);
                double max = 0;
                for (int j = 0; j < count; j++)
                {
                    max = Math.Max(max, Math.Abs(values[k][start + j]));
                }

                _absmax[k][b] = max;
                for (int j = 0; j < count; j++)
                {
                    Codes[k][start + j] = ReferenceMaps.NearestFast(_maps[k], max == 0 ? 0 : values[k][start + j] / max, _keepSign[k]);
                }
            }
        }
    }

    /// <summary>Step <paramref name="t"/> on parameters <paramref name="p"/> (rounded to float32) with gradients <paramref name="g"/>: dequantize, the element update, requantize.</summary>
    public void Step(float[] p, float[] g, int t)
    {
        double[][] values = Dequantized();
        double[] state = new double[Codes.Length];
        for (int i = 0; i < _n; i++)
        {
            for (int k = 0; k < state.Length; k++)
            {
                state[k] = values[k][i];
            }

            double pi = p[i];
            _update(ref pi, g[i], state, t);
            p[i] = (float)pi;
            for (int k = 0; k < state.Length; k++)
            {
                values[k][i] = state[k];
            }
        }

        Requantize(values);
    }
}
