using System;
using System.Numerics;
using OptGen.Generator.Model;

namespace OptGen.Generator.Ir
{
    /// <summary>
    /// The value of an expression made of numbers alone, computed in double as the generated host code computes it
    /// (<c>Math.Exp</c>, <c>Math.Pow</c>, …; Emit/ExprText.cs prints the same operations), or null when the expression
    /// reads anything else (t, a hyperparameter, a per-element value) or is a condition. The front end's checks of
    /// divisors and non-finite parts, and of kernel scalars that float32 cannot hold, fold with it.
    /// </summary>
    internal static class ConstantFold
    {
        /// <param name="e">The expression.</param>
        /// <param name="hostValue">The value of a host statement by name where it is itself a constant, else null; null: host values are not constants.</param>
        public static double? Value(Expr e, Func<string, double?>? hostValue = null)
        {
            if (e.Op == ExprOp.Constant)
            {
                return e.Value;
            }

            if (e.Op == ExprOp.HostValue)
            {
                return hostValue?.Invoke(e.Name);
            }

            var values = new double[e.Args.Count];
            for (int i = 0; i < values.Length; i++)
            {
                if (Value(e.Args[i], hostValue) is not double value)
                {
                    return null;
                }

                values[i] = value;
            }

            return e.Op switch
            {
                ExprOp.Negate => -values[0],
                ExprOp.Abs => Math.Abs(values[0]),
                ExprOp.Sqrt => Math.Sqrt(values[0]),
                ExprOp.Exp => Math.Exp(values[0]),
                ExprOp.Log => Math.Log(values[0]),
                ExprOp.Sign => values[0] > 0 ? 1 : values[0] < 0 ? -1 : values[0] * 0,
                ExprOp.Add => values[0] + values[1],
                ExprOp.Subtract => values[0] - values[1],
                ExprOp.Multiply => values[0] * values[1],
                ExprOp.Divide => values[0] / values[1],
                ExprOp.SafeDivide => values[1] == 0 ? 0 : values[0] / values[1],
                ExprOp.Min => Math.Min(values[0], values[1]),
                ExprOp.Max => Math.Max(values[0], values[1]),
                ExprOp.Pow => Math.Pow(values[0], values[1]),
                ExprOp.MultiplyAdd => FusedMultiplyAdd(values[0], values[1], values[2]),
                _ => null,
            };
        }

        /// <summary>
        /// a·b + c rounded once, as <c>Math.FusedMultiplyAdd</c> (which the generator's netstandard2.0 lacks) computes it:
        /// the exact sum as an integer times a power of two, rounded to odd at 62 bits (an inexact cut sets the last
        /// bit), converted to double (rounded to nearest: 62 ≥ 53 + 2 bits, so the result is correctly rounded) and
        /// scaled. Null where the result is below the normal range (the scaling would round a second time).
        /// </summary>
        internal static double? FusedMultiplyAdd(double a, double b, double c)
        {
            if (!IsFinite(a) || !IsFinite(b) || !IsFinite(c))
            {
                // A finite product plus ±∞ is ±∞ even where the product overflows a double; otherwise the rounded form agrees.
                return IsFinite(a) && IsFinite(b) && double.IsInfinity(c) ? c : (a * b) + c;
            }

            (BigInteger ma, int ea) = Split(a);
            (BigInteger mb, int eb) = Split(b);
            (BigInteger mc, int ec) = Split(c);
            int e = Math.Min(ea + eb, ec);
            BigInteger sum = ((ma * mb) << (ea + eb - e)) + (mc << (ec - e));
            if (sum.IsZero)
            {
                return (a * b) + c; // a·b = −c exactly, so a·b is exact and the sign of the zero is the rounded form's
            }

            BigInteger magnitude = BigInteger.Abs(sum);
            int cut = 0;
            while ((magnitude >> cut) >= (BigInteger.One << 62))
            {
                cut++;
            }

            BigInteger kept = magnitude >> cut;
            if ((kept << cut) != magnitude)
            {
                kept |= BigInteger.One;
            }

            double value = (double)(long)kept * (sum.Sign < 0 ? -1 : 1);
            for (int scale = e + cut; scale != 0;)
            {
                int step = Math.Max(-1000, Math.Min(1000, scale));
                value *= BitConverter.Int64BitsToDouble((long)(step + 1023) << 52); // 2^step, exactly
                scale -= step;
            }

            return Math.Abs(value) < 2.2250738585072014E-308 ? null : value;
        }

        private static bool IsFinite(double x) => !double.IsNaN(x) && !double.IsInfinity(x);

        // x = m·2^e with an integer m (its sign included).
        private static (BigInteger Mantissa, int Exponent) Split(double x)
        {
            long bits = BitConverter.DoubleToInt64Bits(x);
            int exponent = (int)((bits >> 52) & 0x7FF);
            long fraction = bits & 0xF_FFFF_FFFF_FFFF;
            BigInteger mantissa = exponent == 0 ? fraction : fraction | (1L << 52);
            return (bits < 0 ? -mantissa : mantissa, (exponent == 0 ? 1 : exponent) - 1075);
        }
    }
}
